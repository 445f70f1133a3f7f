/**
 * How WebSocket messages line up with the TLS records of the byte stream they carry. A real edge
 * router (§5) sends each write of its inner TLS as one message: whole records, a handshake flight
 * together, every other record on its own. Feed the messages of one direction in order.
 */
const HANDSHAKE = 22;

export class TlsFraming {
  messages = 0;
  records = 0;
  bytes = 0;
  /** Messages that do not start and end at record boundaries. */
  misaligned = 0;
  /** Whole-record messages with a cleartext handshake record (a handshake flight). */
  flights = 0;
  /** Other whole-record messages with more than one record. */
  multiRecord = 0;
  /** Bytes left of the current record's body, and the partial header before it. */
  #need = 0;
  #header: number[] = [];

  push(message: Uint8Array): void {
    const aligned = () => this.#need === 0 && this.#header.length === 0;
    const startAligned = aligned();
    const types: number[] = [];
    for (let i = 0; i < message.length; ) {
      if (this.#need > 0) {
        const take = Math.min(this.#need, message.length - i);
        this.#need -= take;
        i += take;
        continue;
      }
      this.#header.push(message[i++]!);
      if (this.#header.length === 5) {
        types.push(this.#header[0]!);
        this.#need = (this.#header[3]! << 8) | this.#header[4]!;
        this.#header = [];
      }
    }
    this.messages++;
    this.records += types.length;
    this.bytes += message.length;
    if (!startAligned || !aligned()) this.misaligned++;
    else if (types.includes(HANDSHAKE)) this.flights++;
    else if (types.length > 1) this.multiRecord++;
  }

  toString(): string {
    return `${this.messages} messages, ${this.records} records, ${this.misaligned} not whole records, ${this.flights} handshake flights, ${this.multiRecord} others with several records`;
  }
}
