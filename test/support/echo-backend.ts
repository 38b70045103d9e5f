/**
 * A real gRPC backend for interop and end-to-end tests: the thing xDS clients
 * and Envoys are routed *to*. It serves one generic unary method whose bodies
 * are raw bytes, so no .proto or generated code is involved on either side
 * (gRPC itself does not care what the bytes are).
 *
 * The reply names the backend and echoes the request metadata, so a test can
 * see which endpoint a call reached and which headers routing added/kept.
 */
import * as grpc from '@grpc/grpc-js';

/** The one method every test client calls. */
export const ECHO_METHOD = '/trellis.test.Echo/Call';

export interface EchoBehaviour {
  /** gRPC status code to fail calls with (e.g. grpc.status.UNAVAILABLE); unset = never fail */
  failWith?: grpc.status;
  /** Fraction of calls that fail when failWith is set, 0..1 (default 1). */
  failRatio?: number;
  /** Delay before answering, in ms (for timeout and outlier tests). */
  delayMs?: number;
}

export interface EchoBackendOptions extends EchoBehaviour {
  name: string;
  /** default 127.0.0.1 */
  host?: string;
  /** default 0 (any free port); fixed ports are for restarting a backend in place */
  port?: number;
}

/** The JSON body of every successful reply. */
export interface EchoReply {
  backend: string;
  /** request metadata, first value per key; `-bin` values base64 */
  metadata: Record<string, string>;
}

export interface EchoBackend {
  readonly name: string;
  readonly port: number;
  /** `127.0.0.1:<port>` */
  readonly address: string;
  /** calls received so far, failed ones included */
  readonly calls: number;
  /** metadata of the latest call (as in EchoReply), to check what routing forwarded */
  readonly lastMetadata: Record<string, string> | undefined;
  setBehaviour(behaviour: EchoBehaviour): void;
  close(): Promise<void>;
}

/** Trailer naming the backend on failed calls too, so a test can tell who failed. */
export const BACKEND_TRAILER = 'x-echo-backend';

const identity = (b: Buffer): Buffer => b;

export async function startEchoBackend(options: EchoBackendOptions): Promise<EchoBackend> {
  const { name } = options;
  const host = options.host ?? '127.0.0.1';
  let behaviour = checkedBehaviour(options);
  let calls = 0;
  let lastMetadata: Record<string, string> | undefined;
  // Failures follow an accumulator, not a random draw, so a ratio of 0.25
  // fails exactly every 4th call and tests asserting counts are not flaky.
  let failDebt = 0;

  const handler: grpc.handleUnaryCall<Buffer, Buffer> = (call, callback) => {
    calls += 1;
    const metadata = metadataToRecord(call.metadata);
    lastMetadata = metadata;
    const current = behaviour;
    let fail = false;
    if (current.failWith !== undefined) {
      failDebt += current.failRatio ?? 1;
      if (failDebt >= 1 - 1e-9) {
        failDebt -= 1;
        fail = true;
      }
    }
    const reply = (): void => {
      if (fail) {
        const trailer = new grpc.Metadata();
        trailer.set(BACKEND_TRAILER, name);
        callback({ code: current.failWith, details: `echo backend ${name} fails on purpose`, metadata: trailer });
        return;
      }
      const body: EchoReply = { backend: name, metadata };
      callback(null, Buffer.from(JSON.stringify(body)));
    };
    if (current.delayMs) setTimeout(reply, current.delayMs);
    else reply();
  };

  const server = new grpc.Server();
  // An untyped service definition: the method path is all routing sees.
  const service: grpc.ServiceDefinition = {
    Call: {
      path: ECHO_METHOD,
      requestStream: false,
      responseStream: false,
      requestSerialize: identity,
      requestDeserialize: identity,
      responseSerialize: identity,
      responseDeserialize: identity,
    },
  };
  server.addService(service, { Call: handler as grpc.UntypedHandleCall });

  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${host}:${options.port ?? 0}`, grpc.ServerCredentials.createInsecure(), (err, bound) =>
      err ? reject(err) : resolve(bound),
    );
  });

  return {
    name,
    port,
    address: `${host}:${port}`,
    get calls() {
      return calls;
    },
    get lastMetadata() {
      return lastMetadata;
    },
    setBehaviour(next) {
      behaviour = checkedBehaviour(next);
      failDebt = 0;
    },
    close: () => shutdown(server),
  };
}

function checkedBehaviour(b: EchoBehaviour): EchoBehaviour {
  if (b.failRatio !== undefined && !(b.failRatio >= 0 && b.failRatio <= 1)) {
    throw new Error(`failRatio must be within 0..1, got ${b.failRatio}`);
  }
  return { failWith: b.failWith, failRatio: b.failRatio, delayMs: b.delayMs };
}

function metadataToRecord(md: grpc.Metadata): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(md.getMap())) {
    out[key] = typeof value === 'string' ? value : value.toString('base64');
  }
  return out;
}

/** Graceful first (lets in-flight replies finish), forced after a second. */
function shutdown(server: grpc.Server): Promise<void> {
  return new Promise((resolve) => {
    const force = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, 1000);
    server.tryShutdown(() => {
      clearTimeout(force);
      resolve();
    });
  });
}
