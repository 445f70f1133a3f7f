/** libsodium.js's raw module (no types of its own): a factory that resolves to its Emscripten module. */
declare module 'libsodium' {
  interface LibsodiumOptions {
    /** A 32-bit random value; libsodium's randombytes calls it. */
    getRandomValue(): number;
    /** Emscripten's hook: instantiate the WebAssembly with `imports`, then call `done`. */
    instantiateWasm?(
      imports: WebAssembly.Imports,
      done: (instance: WebAssembly.Instance, module: WebAssembly.Module) => void,
    ): object;
  }
  const createLibsodium: (options: LibsodiumOptions) => Promise<unknown>;
  export default createLibsodium;
}
