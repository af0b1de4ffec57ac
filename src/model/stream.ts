/**
 * A generation as a stream: an async generator of text chunks that also carries the whole
 * result (`stream.result`), and that cancels the native generation when the consumer stops
 * early (`break`, a throw in the loop body, or `return()`), so the engine never decodes on to
 * maxTokens for nobody.
 */
import type { Generation, StreamChunk } from './generation-types.js';

/** What `Model.stream()` returns: iterate it for the text; `result` is the whole Generation. */
export interface GenerationStream extends AsyncGenerator<StreamChunk, Generation, void> {
  /**
   * The finished generation (text, tokens, timings, finish reason). Reading it starts the
   * generation if nothing iterated yet; it rejects with E_ABORTED when the stream was closed
   * before the end, and with the generation's error otherwise.
   */
  readonly result: Promise<Generation>;
}

/** Runs one generation: chunks go to `onChunk`; `signal` aborts it (rejecting with E_ABORTED). */
export type StreamRun = (onChunk: (chunk: StreamChunk) => void, signal: AbortSignal) => Promise<Generation>;

/** The reason a stream closed early gives its generation (in the E_ABORTED message). */
export const STREAM_CLOSED = 'the stream was closed before the generation ended';

/** A GenerationStream over `run`, started lazily (first `next()` or first read of `result`). */
export function generationStream(run: StreamRun, signal?: AbortSignal): GenerationStream {
  const closer = new AbortController();
  const queue: StreamChunk[] = [];
  let wake: (() => void) | undefined;
  let done = false;
  let running: Promise<Generation> | undefined;
  const start = (): Promise<Generation> => {
    if (!running) {
      const both = signal ? AbortSignal.any([signal, closer.signal]) : closer.signal;
      running = run((chunk) => {
        queue.push(chunk);
        wake?.();
      }, both).finally(() => {
        done = true;
        wake?.();
      });
      running.catch(() => {}); // handled: the error surfaces through `result` and the iterator
    }
    return running;
  };
  const cancel = () => {
    if (running && !done) closer.abort(new Error(STREAM_CLOSED));
  };
  async function* chunks(): AsyncGenerator<StreamChunk, Generation, void> {
    const result = start();
    try {
      while (true) {
        while (queue.length > 0) yield queue.shift() as StreamChunk;
        if (done) break;
        await new Promise<void>((r) => (wake = r));
        wake = undefined;
      }
      return await result;
    } finally {
      cancel(); // a consumer that stopped early (break, throw, return) stops the engine
    }
  }
  const stream = chunks();
  const close = stream.return.bind(stream);
  // return() before the first next() never enters the generator body (so never its finally).
  stream.return = (value) => {
    cancel();
    return close(value);
  };
  Object.defineProperty(stream, 'result', { get: start, enumerable: true });
  return stream as GenerationStream;
}
