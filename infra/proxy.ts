/**
 * The HA proxy (tasks/ha-proxy) on ECS Fargate behind an internal Network Load Balancer: TCP 5432 reaches the
 * primary, 5433 the replicas. The load balancer asks each task's health API (port 8008) whether it can route:
 * `/primary` answers 200 only while the task knows a healthy primary, `/replica` while it has a read-only route,
 * so a task that lost its view of the cluster stops receiving connections for that port.
 */
import type { Secrets } from './secrets.ts';

/** The proxy's health API port (config `proxy.apiPort`). */
const HEALTH_PORT = 8008;
const READ_WRITE_PORT = 5432;
const READ_ONLY_PORT = 5433;

export function createNetwork() {
  // NAT (a t4g.nano instance per AZ) gives the functions and tasks egress to Slack, Loki and the AWS APIs.
  const vpc = new sst.aws.Vpc('Vpc', { nat: 'ec2' });
  const cluster = new sst.aws.Cluster('Cluster', { vpc });
  return { vpc, cluster };
}

export function createProxy({ cluster, secrets }: { cluster: sst.aws.Cluster; secrets: Secrets }) {
  const service = new sst.aws.Service('Proxy', {
    cluster,
    // `npm run build` first: the image copies dist/ha-proxy/index.mjs (see tasks/ha-proxy/Dockerfile).
    image: { context: '.', dockerfile: 'tasks/ha-proxy/Dockerfile' },
    // Splicing bytes between sockets and one health probe per node per second: a quarter vCPU is plenty.
    cpu: '0.25 vCPU',
    memory: '0.5 GB',
    // Two tasks in two AZs so a task or AZ loss keeps both ports served; more under sustained CPU load.
    scaling: { min: 2, max: 4, cpuUtilization: 70 },
    loadBalancer: {
      // Internal: the database ports are for clients inside the VPC, never the internet.
      public: false,
      rules: [
        { listen: `${READ_WRITE_PORT}/tcp`, forward: `${READ_WRITE_PORT}/tcp` },
        { listen: `${READ_ONLY_PORT}/tcp`, forward: `${READ_ONLY_PORT}/tcp` },
      ],
    },
    link: [secrets.clusterUrls, secrets.proxyApiToken],
    // ProxyApiToken reaches the task as PGWARDEN_PROXY_API_TOKEN (shared/config/linked.ts); the stack cannot
    // deploy without it, because an API bound off loopback with no token refuses drain/undrain with 403.
    environment: {
      // The load balancer's health checks come from the VPC, not loopback: the reads are open to the VPC, the
      // mutations need the token.
      PGWARDEN_PROXY_API_HOST: '0.0.0.0',
      PGWARDEN_LOG_FORMAT: 'json',
      PGWARDEN_STAGE: $app.stage,
    },
    transform: {
      target: (args) => {
        args.healthCheck = {
          enabled: true,
          protocol: 'HTTP',
          port: String(HEALTH_PORT),
          path: args.port === READ_WRITE_PORT ? '/primary' : '/replica',
          matcher: '200',
          interval: 10,
          timeout: 5,
          healthyThreshold: 2,
          unhealthyThreshold: 2,
        };
        // Matches the proxy's drainTimeout (30 s): open sessions get that long to finish on a deregistered task.
        args.deregistrationDelay = 30;
      },
    },
  });
  return service;
}
