// A yes/no question on the terminal (stderr, so --json's stdout stays one document).

import { createInterface } from 'node:readline/promises';

export async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim());
  } finally {
    rl.close();
  }
}

export const isInteractive = (): boolean => Boolean(process.stdin.isTTY);
