/**
 * Split a string into words the way a POSIX shell would (quotes, backslashes), without running
 * anything: for `qsub_options` and the `ray start` lines of a config. Operators and substitutions
 * are refused, since nothing here is ever given to a shell; `*` and `?` stay literal (qsub reads
 * them itself, e.g. `-q all.q@node*`). `keepDollar` reads `$VAR` as literal text, for lines whose
 * options are only inspected (`ray start --address=$RAY_HEAD_IP:6379`).
 */
export function shellWords(text: string, options: { keepDollar?: boolean } = {}): string[] {
  const refused = options.keepDollar ? "|&;<>()`" : "|&;<>()$`";
  const words: string[] = [];
  let word = "";
  let inWord = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (c === "'") {
      const end = text.indexOf("'", i + 1);
      if (end < 0) throw new Error(`unclosed ' in ${JSON.stringify(text)}`);
      word += text.slice(i + 1, end);
      inWord = true;
      i = end;
    } else if (c === '"') {
      let j = i + 1;
      for (; j < text.length && text[j] !== '"'; j++) {
        if (text[j] === "\\" && j + 1 < text.length && '"\\$`'.includes(text[j + 1] as string)) j++;
        else if ((text[j] === "$" && !options.keepDollar) || text[j] === "`")
          throw new Error(`substitutions ($, \`) are not supported: ${JSON.stringify(text)}`);
        word += text[j];
      }
      if (j >= text.length) throw new Error(`unclosed " in ${JSON.stringify(text)}`);
      inWord = true;
      i = j;
    } else if (c === "\\") {
      if (i + 1 < text.length) word += text[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
    } else if (refused.includes(c)) {
      throw new Error(
        `shell syntax ${JSON.stringify(c)} is not supported here (nothing runs through a shell): ${JSON.stringify(text)}`,
      );
    } else {
      word += c;
      inWord = true;
    }
  }
  if (inWord) words.push(word);
  return words;
}
