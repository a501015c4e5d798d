export interface ConfigProblem {
  /** Where, like `clusters[1].nodes[0].url`. */
  path: string;
  message: string;
  /** The file (or `config`) the merged value came from. */
  source: string;
}

/** Invalid configuration: carries every problem at once. The CLI prints them and exits 2. */
export class ConfigError extends Error {
  override name = 'ConfigError';
  readonly problems: readonly ConfigProblem[];

  constructor(problems: ConfigProblem[], options?: { cause?: unknown }) {
    super(
      `invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${problems.map((p) => `  - ${p.path}: ${p.message}`).join('\n')}`,
      options,
    );
    this.problems = problems;
  }
}
