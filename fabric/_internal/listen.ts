import type { Server } from 'node:net';

/** A port that cannot be used, with a message that says which component wanted it. */
export class PortInUseError extends Error {
  readonly code = 'ERR_PORT_IN_USE';
  constructor(
    readonly component: string,
    readonly host: string,
    readonly port: number,
    options?: ErrorOptions,
  ) {
    super(
      `${component}: ${host}:${port} is already in use; stop the other server or choose another port`,
      options,
    );
  }
}

/** Listens and resolves with the bound port; EADDRINUSE becomes a PortInUseError. */
export function listen(
  server: Server,
  host: string,
  port: number,
  component: string,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'EADDRINUSE' ? new PortInUseError(component, host, port, { cause: err }) : err,
      );
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      const addr = server.address();
      resolve(typeof addr === 'object' && addr ? addr.port : port);
    });
  });
}
