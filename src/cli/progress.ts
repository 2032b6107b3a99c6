// Terminal progress bars (cli-progress) with rate and ETA; silent when stderr is not a terminal
// unless forced, so logs stay clean.
import cliProgress from 'cli-progress';

export interface Progress {
  update(done: number, total?: number): void;
  stop(): void;
}

export function progressBar(label: string, total: number, unit = 'items'): Progress {
  if (!process.stderr.isTTY || process.env.PLATEAU_NO_PROGRESS) {
    return { update() {}, stop() {} };
  }
  const bar = new cliProgress.SingleBar({
    format: `${label.padEnd(18)} [{bar}] {percentage}% | {value}/{total} ${unit} | {rate}/s | ETA {eta_formatted}`,
    stream: process.stderr,
    hideCursor: true,
    clearOnComplete: false,
    etaBuffer: 50,
  }, cliProgress.Presets.shades_classic);
  const started = Date.now();
  bar.start(total, 0, { rate: '0' });
  return {
    update(done, newTotal) {
      if (newTotal !== undefined) bar.setTotal(newTotal);
      const seconds = (Date.now() - started) / 1000;
      bar.update(done, { rate: seconds > 0 ? (done / seconds).toFixed(1) : '0' });
    },
    stop() {
      bar.stop();
    },
  };
}
