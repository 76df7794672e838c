/**
 * BERT uncased WordPiece tokenization, as transformers' BertTokenizer(do_lower_case=True)
 * does it, for the text encoder (models/text-encoder). Hand-written because it is ~80
 * lines against a vocabulary file; the npm ports of Hugging Face tokenizers bring a
 * whole model runtime with them. tests/personalization.test.ts checks it token for
 * token against BertTokenizer's output (tests/fixtures/tokenizer-golden.json).
 */
import { readFileSync } from 'node:fs';

const CJK: [number, number][] = [[0x4e00, 0x9fff], [0x3400, 0x4dbf], [0x20000, 0x2a6df], [0x2a700, 0x2b73f], [0x2b740, 0x2b81f], [0x2b820, 0x2ceaf], [0xf900, 0xfaff], [0x2f800, 0x2fa1f]];
const isCjk = (cp: number): boolean => CJK.some(([a, b]) => cp >= a && cp <= b);
const isWhitespace = (ch: string): boolean => ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r' || /\p{Zs}/u.test(ch);
const isControl = (ch: string): boolean => ch !== '\t' && ch !== '\n' && ch !== '\r' && /\p{C}/u.test(ch);
function isPunctuation(ch: string): boolean {
  const cp = ch.codePointAt(0)!;
  // BERT treats every non-letter/number ASCII character as punctuation, like '$' and '^'
  if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126)) return true;
  return /\p{P}/u.test(ch);
}

export class WordPieceTokenizer {
  readonly #vocab = new Map<string, number>();
  readonly cls: number;
  readonly sep: number;
  readonly unk: number;

  constructor(vocabPath: string, readonly maxTokens = 32) {
    readFileSync(vocabPath, 'utf8').split('\n').forEach((t, i) => { if (t.length > 0 && !this.#vocab.has(t)) this.#vocab.set(t, i); });
    this.cls = this.#vocab.get('[CLS]')!;
    this.sep = this.#vocab.get('[SEP]')!;
    this.unk = this.#vocab.get('[UNK]')!;
  }

  /** words after BERT's basic tokenization: cleaned, lower-cased, accents stripped, split on spaces and punctuation */
  words(text: string): string[] {
    let clean = '';
    for (const ch of text) {
      const cp = ch.codePointAt(0)!;
      if (cp === 0 || cp === 0xfffd || isControl(ch)) continue;
      clean += isWhitespace(ch) ? ' ' : isCjk(cp) ? ` ${ch} ` : ch;
    }
    const out: string[] = [];
    for (const raw of clean.split(' ')) {
      if (!raw) continue;
      const w = raw.toLowerCase().normalize('NFD').replace(/\p{Mn}/gu, '');
      let cur = '';
      for (const ch of w) {
        if (isPunctuation(ch)) { if (cur) out.push(cur); out.push(ch); cur = ''; } else cur += ch;
      }
      if (cur) out.push(cur);
    }
    return out;
  }

  /** greedy longest-match-first WordPiece ids of one word */
  #pieces(word: string, out: number[]): void {
    const chars = [...word];
    if (chars.length > 100) { out.push(this.unk); return; }
    const ids: number[] = [];
    let start = 0;
    while (start < chars.length) {
      let end = chars.length, found = -1;
      while (start < end) {
        const sub = (start > 0 ? '##' : '') + chars.slice(start, end).join('');
        const id = this.#vocab.get(sub);
        if (id !== undefined) { found = id; break; }
        end--;
      }
      if (found < 0) { out.push(this.unk); return; }
      ids.push(found);
      start = end;
    }
    out.push(...ids);
  }

  /** [CLS] pieces… [SEP], truncated and zero-padded to maxTokens; also the attention mask */
  encode(text: string): { ids: number[]; mask: number[] } {
    const pieces: number[] = [];
    for (const w of this.words(text)) { this.#pieces(w, pieces); if (pieces.length >= this.maxTokens - 2) break; }
    const ids = [this.cls, ...pieces.slice(0, this.maxTokens - 2), this.sep];
    const mask = ids.map(() => 1);
    while (ids.length < this.maxTokens) { ids.push(0); mask.push(0); }
    return { ids, mask };
  }
}
