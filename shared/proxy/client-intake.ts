/**
 * A new client's admission on a data plane: refused while the plane stops or the proxy is full, else its first
 * packet is read (bounded by the connect timeout) and the client is routed: a CancelRequest to the node that
 * issued its key, anything else by the listener's routes, then connected and spliced (client-session.ts).
 *
 * Kept free of the control plane's imports, as data-plane.ts is: a worker thread loads it.
 */
import { Socket } from 'node:net';
import { classifyFirstPacket } from './backend-key.ts';
import { CLIENT_KEEPALIVE_MS, connectClient, type PlaneSession } from './client-session.ts';
import type { ConnectDeadline } from './deadlines.ts';
import { type RawLink, readFirstPacket, tuneClient } from './handles.ts';
import type { ListenerName } from './metrics-types.ts';
import type { TargetChooser } from './targets.ts';

/** What admission needs of its plane, beyond what a session needs. */
export interface PlaneIntake extends PlaneSession {
  readonly maxClients: number;
  /** False once the plane stopped accepting: new clients are refused as shutting down. */
  readonly accepting: () => boolean;
  /** Clients whose first packet is awaited (their abort): the plane closes them with the others. */
  readonly awaiting: Set<() => void>;
  readonly targets: TargetChooser;
}

/**
 * A new client: a `net.Socket` (streams path, or a listener net still owns) or a bare handle (takeOverConnections).
 * Its first packet is read before a node is chosen (a CancelRequest goes where its key was issued); the wait is
 * bounded by the connect timeout.
 */
export function admitClient(intake: PlaneIntake, listener: ListenerName, client: Socket | RawLink) {
  const { counters } = intake;
  if (client instanceof Socket) client.on('error', () => {});
  else tuneClient(client, CLIENT_KEEPALIVE_MS);
  if (!intake.accepting()) return intake.refuse(listener, client, 'shutting_down');
  if (!counters.reserveClient(intake.maxClients)) return intake.refuse(listener, client, 'too_many_clients', { max: intake.maxClients });
  const abort = () => {
    if (deadline.done) return;
    deadline.done = true;
    intake.awaiting.delete(abort);
    stopReading();
    client.destroy();
    counters.releaseClient();
  };
  const deadline: ConnectDeadline = { done: false, expire: abort };
  const stopReading = readFirstPacket(
    client,
    (head) => classifyFirstPacket(head) !== 'more',
    (head, ended) => {
      if (deadline.done) return;
      if (head === null) return abort();
      deadline.done = true;
      intake.awaiting.delete(abort);
      routeClient(intake, listener, client, head, ended);
    },
  );
  if (deadline.done) return;
  intake.awaiting.add(abort);
  intake.connectDeadlines.add(deadline);
}

/** A client whose first packet is read: routed, connected and spliced, or turned away. */
function routeClient(intake: PlaneIntake, listener: ListenerName, client: Socket | RawLink, head: Buffer, ended: boolean) {
  const { counters } = intake;
  const cancel = classifyFirstPacket(head) === 'cancel';
  const node = intake.targets.targetOf(listener, head, cancel);
  if (node === 'drop') {
    client.destroy();
    return counters.releaseClient();
  }
  if (typeof node === 'string') {
    counters.releaseClient();
    return intake.refuse(listener, client, node, undefined, head);
  }
  connectClient(intake, listener, client, node, head, ended, cancel);
}
