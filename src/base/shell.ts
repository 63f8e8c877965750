/** POSIX single-quoting: safe for every byte but NUL. */
export function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** Like shellQuote, but a word of only safe characters stays bare (for commands people read). */
export function shellWord(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : shellQuote(word);
}
