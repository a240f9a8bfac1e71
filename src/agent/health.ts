// Heartbeats: every interval each live worker gets a PING; a worker that has not answered the
// previous one has missed a beat. After `misses` beats in a row (a hung or SIGSTOPped process)
// the pool kills it by process group and replaces it. The worker's reader thread answers PINGs
// even while a tool runs, so a long call is not a missed beat.

export class Heartbeat {
  private sent = 0;
  private answered = 0;
  missed = 0;

  /** Called every interval; returns the sequence number to send. */
  beat(): number {
    if (this.sent !== this.answered) this.missed++;
    else this.missed = 0;
    this.sent = this.sent >= 0xfffffffe ? 1 : this.sent + 1;
    return this.sent;
  }

  pong(seq: number): void {
    if (seq === this.sent) this.answered = seq;
  }
}
