/**
 * A YAML 1.1 scanner and parser that accepts and refuses exactly what libyaml 0.2.5 does: the C reader
 * behind PyYAML's CSafeLoader, which the Supervisor reads add-on files with. It yields libyaml's events
 * (stream, document, alias, scalar, sequence and mapping start/end) with their marks, and fails with
 * libyaml's own error (context, problem and where).
 *
 * Written from libyaml's design (scanner.c: tokens, simple keys, indentation; parser.c: the event state
 * machine), not from its code. Nothing here recurses on the input's nesting: deep documents cost memory,
 * not stack. Line breaks: the caller passes text whose "\r\n" and "\r" are already "\n" (Python's universal
 * newlines do that before libyaml sees the text); NEL, LS and PS are line breaks as in libyaml.
 */

export interface Mark {
  /** Offset in the text (UTF-16 units). */
  index: number;
  /** 0-based, as libyaml counts. */
  line: number;
  column: number;
}

export class YamlError extends Error {
  constructor(
    readonly context: string | null,
    readonly contextMark: Mark | null,
    readonly problem: string,
    readonly problemMark: Mark,
    readonly kind: 'scanner' | 'parser' | 'composer' | 'constructor' = 'scanner',
  ) {
    super(context ? `${context}: ${problem}` : problem);
  }
}

const enum T {
  StreamStart,
  StreamEnd,
  VersionDirective,
  TagDirective,
  DocumentStart,
  DocumentEnd,
  BlockSequenceStart,
  BlockMappingStart,
  BlockEnd,
  FlowSequenceStart,
  FlowSequenceEnd,
  FlowMappingStart,
  FlowMappingEnd,
  BlockEntry,
  FlowEntry,
  Key,
  Value,
  Alias,
  Anchor,
  Tag,
  Scalar,
}

export type ScalarStyle = 'plain' | 'single' | 'double' | 'literal' | 'folded';

interface Token {
  type: T;
  start: Mark;
  end: Mark;
  value?: string;
  style?: ScalarStyle;
  handle?: string;
  suffix?: string;
  major?: number;
  minor?: number;
}

interface SimpleKey {
  possible: boolean;
  required: boolean;
  tokenNumber: number;
  mark: Mark;
}

const NEL = 0x85;
const LS = 0x2028;
const PS = 0x2029;
const BOM = 0xfeff;

function isBreak(c: number): boolean {
  return c === 10 || c === 13 || c === NEL || c === LS || c === PS;
}
function isBlank(c: number): boolean {
  return c === 32 || c === 9;
}
function isBreakZ(c: number): boolean {
  return c === 0 || isBreak(c);
}
function isBlankZ(c: number): boolean {
  return isBlank(c) || isBreakZ(c);
}
function isAlpha(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 45;
}
function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}
function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}
/** Characters of a tag URI (libyaml's list); `,`, `[` and `]` only in a verbatim tag. */
function isUriChar(c: number, verbatim: boolean): boolean {
  if (isAlpha(c)) return true;
  switch (c) {
    case 0x3b: case 0x2f: case 0x3f: case 0x3a: case 0x40: case 0x26: case 0x3d: case 0x2b: case 0x24:
    case 0x2e: case 0x25: case 0x21: case 0x7e: case 0x2a: case 0x27: case 0x28: case 0x29:
      return true;
    case 0x2c: case 0x5b: case 0x5d:
      return verbatim;
    default:
      return false;
  }
}

class Scanner {
  private readonly s: string;
  private i = 0;
  private line = 0;
  private col = 0;
  private readonly tokens: Token[] = [];
  private head = 0;
  private tokensParsed = 0;
  private streamStartProduced = false;
  streamEndProduced = false;
  private indent = -1;
  private readonly indents: number[] = [];
  private simpleKeyAllowed = false;
  private readonly simpleKeys: SimpleKey[] = [];
  /**
   * Every simple key below this position of the stack is not possible: only the top key is ever made
   * possible (saveSimpleKey), so the checks that walk the stack start here. libyaml walks it all, which
   * made a line of N nested flow collections cost N squared.
   */
  private firstPossibleKey = 0;
  private flowLevel = 0;

  constructor(text: string) {
    this.s = text;
    // The reader drops a byte order mark at the start of the stream; the column stays 0.
    if (text.charCodeAt(0) === BOM) this.i = 1;
  }

  private c(k = 0): number {
    const j = this.i + k;
    return j < this.s.length ? this.s.charCodeAt(j) : 0;
  }
  private mark(): Mark {
    return { index: this.i, line: this.line, column: this.col };
  }
  private skip(): void {
    this.i++;
    this.col++;
  }
  private skipLine(): void {
    const c = this.c();
    if (c === 13 && this.c(1) === 10) {
      this.i += 2;
      this.col = 0;
      this.line++;
    } else if (isBreak(c)) {
      this.i++;
      this.col = 0;
      this.line++;
    }
  }
  /** READ_LINE: the break as libyaml copies it ("\n" for CR, LF, CRLF and NEL; LS and PS as they are). */
  private readLine(): string {
    const c = this.c();
    let out = '';
    if (c === 13 && this.c(1) === 10) out = '\n';
    else if (c === 13 || c === 10 || c === NEL) out = '\n';
    else if (c === LS || c === PS) out = String.fromCharCode(c);
    this.skipLine();
    return out;
  }
  private error(context: string | null, contextMark: Mark | null, problem: string): never {
    throw new YamlError(context, contextMark, problem, this.mark(), 'scanner');
  }

  // --- the token queue -------------------------------------------------------------------------

  peek(): Token {
    this.fetchMoreTokens();
    return this.tokens[this.head]!;
  }
  next(): Token {
    const token = this.peek();
    this.head++;
    this.tokensParsed++;
    if (token.type === T.StreamEnd) this.streamEndProduced = true;
    // Drop consumed tokens now and then so the queue does not grow with the document.
    if (this.head > 1024 && this.head * 2 > this.tokens.length) {
      this.tokens.splice(0, this.head);
      this.head = 0;
    }
    return token;
  }
  private queued(): number {
    return this.tokens.length - this.head;
  }
  private enqueue(token: Token): void {
    this.tokens.push(token);
  }
  private insert(number: number, token: Token): void {
    this.tokens.splice(this.head + number - this.tokensParsed, 0, token);
  }

  private fetchMoreTokens(): void {
    for (;;) {
      let need = false;
      if (this.queued() === 0) need = true;
      else {
        this.staleSimpleKeys();
        for (let i = this.firstPossibleKey; i < this.simpleKeys.length; i++) {
          const key = this.simpleKeys[i]!;
          if (key.possible && key.tokenNumber === this.tokensParsed) {
            need = true;
            break;
          }
        }
      }
      if (!need) return;
      this.fetchNextToken();
    }
  }

  private fetchNextToken(): void {
    if (!this.streamStartProduced) return this.fetchStreamStart();
    this.scanToNextToken();
    this.staleSimpleKeys();
    this.unrollIndent(this.col);
    const c = this.c();
    if (c === 0 && this.i >= this.s.length) return this.fetchStreamEnd();
    if (this.col === 0 && c === 0x25) return this.fetchDirective();
    if (this.col === 0 && c === 0x2d && this.c(1) === 0x2d && this.c(2) === 0x2d && isBlankZ(this.c(3))) return this.fetchDocumentIndicator(T.DocumentStart);
    if (this.col === 0 && c === 0x2e && this.c(1) === 0x2e && this.c(2) === 0x2e && isBlankZ(this.c(3))) return this.fetchDocumentIndicator(T.DocumentEnd);
    switch (c) {
      case 0x5b: return this.fetchFlowCollectionStart(T.FlowSequenceStart);
      case 0x7b: return this.fetchFlowCollectionStart(T.FlowMappingStart);
      case 0x5d: return this.fetchFlowCollectionEnd(T.FlowSequenceEnd);
      case 0x7d: return this.fetchFlowCollectionEnd(T.FlowMappingEnd);
      case 0x2c: return this.fetchFlowEntry();
    }
    if (c === 0x2d && isBlankZ(this.c(1))) return this.fetchBlockEntry();
    if (c === 0x3f && (this.flowLevel > 0 || isBlankZ(this.c(1)))) return this.fetchKey();
    if (c === 0x3a && (this.flowLevel > 0 || isBlankZ(this.c(1)))) return this.fetchValue();
    if (c === 0x2a) return this.fetchAnchor(T.Alias);
    if (c === 0x26) return this.fetchAnchor(T.Anchor);
    if (c === 0x21) return this.fetchTag();
    if (c === 0x7c && this.flowLevel === 0) return this.fetchBlockScalar(true);
    if (c === 0x3e && this.flowLevel === 0) return this.fetchBlockScalar(false);
    if (c === 0x27) return this.fetchFlowScalar(true);
    if (c === 0x22) return this.fetchFlowScalar(false);
    const indicator = '-?:,[]{}#&*!|>\'"%@`'.includes(String.fromCharCode(c));
    if (
      !(isBlankZ(c) || indicator) ||
      (c === 0x2d && !isBlank(this.c(1))) ||
      (this.flowLevel === 0 && (c === 0x3f || c === 0x3a) && !isBlankZ(this.c(1)))
    ) {
      return this.fetchPlainScalar();
    }
    this.error('while scanning for the next token', this.mark(), 'found character that cannot start any token');
  }

  private scanToNextToken(): void {
    for (;;) {
      if (this.col === 0 && this.c() === BOM) this.skip();
      while (this.c() === 32 || ((this.flowLevel > 0 || !this.simpleKeyAllowed) && this.c() === 9)) this.skip();
      if (this.c() === 0x23) while (!isBreakZ(this.c())) this.skip();
      if (isBreak(this.c())) {
        this.skipLine();
        if (this.flowLevel === 0) this.simpleKeyAllowed = true;
      } else {
        return;
      }
    }
  }

  // --- simple keys and indentation --------------------------------------------------------------

  private staleSimpleKeys(): void {
    for (let i = this.firstPossibleKey; i < this.simpleKeys.length; i++) {
      const key = this.simpleKeys[i]!;
      if (key.possible && (key.mark.line < this.line || key.mark.index + 1024 < this.i)) {
        if (key.required) this.error('while scanning a simple key', key.mark, "could not find expected ':'");
        key.possible = false;
      }
      // Keys that are not possible at the bottom of the range stay so: the next walk starts above them.
      if (!key.possible && i === this.firstPossibleKey) this.firstPossibleKey++;
    }
  }
  private saveSimpleKey(): void {
    const required = this.flowLevel === 0 && this.indent === this.col;
    if (this.simpleKeyAllowed) {
      const key: SimpleKey = { possible: true, required, tokenNumber: this.tokensParsed + this.queued(), mark: this.mark() };
      this.removeSimpleKey();
      this.simpleKeys[this.simpleKeys.length - 1] = key;
      this.firstPossibleKey = Math.min(this.firstPossibleKey, this.simpleKeys.length - 1);
    }
  }
  private removeSimpleKey(): void {
    const key = this.simpleKeys[this.simpleKeys.length - 1]!;
    if (key.possible && key.required) this.error('while scanning a simple key', key.mark, "could not find expected ':'");
    key.possible = false;
  }
  private increaseFlowLevel(): void {
    this.simpleKeys.push({ possible: false, required: false, tokenNumber: 0, mark: this.mark() });
    this.flowLevel++;
  }
  private decreaseFlowLevel(): void {
    if (this.flowLevel > 0) {
      this.flowLevel--;
      this.simpleKeys.pop();
    }
  }
  private rollIndent(column: number, number: number, type: T, mark: Mark): void {
    if (this.flowLevel > 0) return;
    if (this.indent < column) {
      this.indents.push(this.indent);
      this.indent = column;
      const token: Token = { type, start: mark, end: mark };
      if (number === -1) this.enqueue(token);
      else this.insert(number, token);
    }
  }
  private unrollIndent(column: number): void {
    if (this.flowLevel > 0) return;
    while (this.indent > column) {
      const mark = this.mark();
      this.enqueue({ type: T.BlockEnd, start: mark, end: mark });
      this.indent = this.indents.pop()!;
    }
  }

  // --- fetchers ---------------------------------------------------------------------------------

  private fetchStreamStart(): void {
    this.indent = -1;
    this.simpleKeys.push({ possible: false, required: false, tokenNumber: 0, mark: this.mark() });
    this.simpleKeyAllowed = true;
    this.streamStartProduced = true;
    const mark = this.mark();
    this.enqueue({ type: T.StreamStart, start: mark, end: mark });
  }
  private fetchStreamEnd(): void {
    if (this.col !== 0) {
      this.col = 0;
      this.line++;
    }
    this.unrollIndent(-1);
    this.removeSimpleKey();
    this.simpleKeyAllowed = false;
    const mark = this.mark();
    this.enqueue({ type: T.StreamEnd, start: mark, end: mark });
  }
  private fetchDirective(): void {
    this.unrollIndent(-1);
    this.removeSimpleKey();
    this.simpleKeyAllowed = false;
    this.enqueue(this.scanDirective());
  }
  private fetchDocumentIndicator(type: T): void {
    this.unrollIndent(-1);
    this.removeSimpleKey();
    this.simpleKeyAllowed = false;
    const start = this.mark();
    this.skip();
    this.skip();
    this.skip();
    this.enqueue({ type, start, end: this.mark() });
  }
  private fetchFlowCollectionStart(type: T): void {
    this.saveSimpleKey();
    this.increaseFlowLevel();
    this.simpleKeyAllowed = true;
    const start = this.mark();
    this.skip();
    this.enqueue({ type, start, end: this.mark() });
  }
  private fetchFlowCollectionEnd(type: T): void {
    this.removeSimpleKey();
    this.decreaseFlowLevel();
    this.simpleKeyAllowed = false;
    const start = this.mark();
    this.skip();
    this.enqueue({ type, start, end: this.mark() });
  }
  private fetchFlowEntry(): void {
    this.removeSimpleKey();
    this.simpleKeyAllowed = true;
    const start = this.mark();
    this.skip();
    this.enqueue({ type: T.FlowEntry, start, end: this.mark() });
  }
  private fetchBlockEntry(): void {
    if (this.flowLevel === 0) {
      if (!this.simpleKeyAllowed) this.error(null, null, 'block sequence entries are not allowed in this context');
      this.rollIndent(this.col, -1, T.BlockSequenceStart, this.mark());
    }
    this.removeSimpleKey();
    this.simpleKeyAllowed = true;
    const start = this.mark();
    this.skip();
    this.enqueue({ type: T.BlockEntry, start, end: this.mark() });
  }
  private fetchKey(): void {
    if (this.flowLevel === 0) {
      if (!this.simpleKeyAllowed) this.error(null, null, 'mapping keys are not allowed in this context');
      this.rollIndent(this.col, -1, T.BlockMappingStart, this.mark());
    }
    this.removeSimpleKey();
    this.simpleKeyAllowed = this.flowLevel === 0;
    const start = this.mark();
    this.skip();
    this.enqueue({ type: T.Key, start, end: this.mark() });
  }
  private fetchValue(): void {
    const key = this.simpleKeys[this.simpleKeys.length - 1]!;
    if (key.possible) {
      this.insert(key.tokenNumber, { type: T.Key, start: key.mark, end: key.mark });
      this.rollIndent(key.mark.column, key.tokenNumber, T.BlockMappingStart, key.mark);
      key.possible = false;
      this.simpleKeyAllowed = false;
    } else {
      if (this.flowLevel === 0) {
        if (!this.simpleKeyAllowed) this.error(null, null, 'mapping values are not allowed in this context');
        this.rollIndent(this.col, -1, T.BlockMappingStart, this.mark());
      }
      this.simpleKeyAllowed = this.flowLevel === 0;
    }
    const start = this.mark();
    this.skip();
    this.enqueue({ type: T.Value, start, end: this.mark() });
  }
  private fetchAnchor(type: T): void {
    this.saveSimpleKey();
    this.simpleKeyAllowed = false;
    this.enqueue(this.scanAnchor(type));
  }
  private fetchTag(): void {
    this.saveSimpleKey();
    this.simpleKeyAllowed = false;
    this.enqueue(this.scanTag());
  }
  private fetchBlockScalar(literal: boolean): void {
    this.removeSimpleKey();
    this.simpleKeyAllowed = true;
    this.enqueue(this.scanBlockScalar(literal));
  }
  private fetchFlowScalar(single: boolean): void {
    this.saveSimpleKey();
    this.simpleKeyAllowed = false;
    this.enqueue(this.scanFlowScalar(single));
  }
  private fetchPlainScalar(): void {
    this.saveSimpleKey();
    this.simpleKeyAllowed = false;
    this.enqueue(this.scanPlainScalar());
  }

  // --- scanners ---------------------------------------------------------------------------------

  private scanDirective(): Token {
    const start = this.mark();
    this.skip();
    const name = this.scanDirectiveName(start);
    let token: Token;
    if (name === 'YAML') {
      while (isBlank(this.c())) this.skip();
      const major = this.scanVersionNumber(start);
      if (this.c() !== 0x2e) this.error('while scanning a %YAML directive', start, "did not find expected digit or '.' character");
      this.skip();
      const minor = this.scanVersionNumber(start);
      token = { type: T.VersionDirective, start, end: this.mark(), major, minor };
    } else if (name === 'TAG') {
      while (isBlank(this.c())) this.skip();
      const handle = this.scanTagHandle(true, start);
      if (!isBlank(this.c())) this.error('while scanning a %TAG directive', start, 'did not find expected whitespace');
      while (isBlank(this.c())) this.skip();
      const prefix = this.scanTagUri(true, true, null, start);
      if (!isBlankZ(this.c())) this.error('while scanning a %TAG directive', start, 'did not find expected whitespace or line break');
      token = { type: T.TagDirective, start, end: this.mark(), handle, value: prefix };
    } else {
      this.error('while scanning a directive', start, 'found unknown directive name');
    }
    while (isBlank(this.c())) this.skip();
    if (this.c() === 0x23) while (!isBreakZ(this.c())) this.skip();
    if (!isBreakZ(this.c())) this.error('while scanning a directive', start, 'did not find expected comment or line break');
    if (isBreak(this.c())) this.skipLine();
    return token;
  }
  private scanDirectiveName(start: Mark): string {
    const from = this.i;
    while (isAlpha(this.c())) this.skip();
    if (this.i === from) this.error('while scanning a directive', start, 'could not find expected directive name');
    if (!isBlankZ(this.c())) this.error('while scanning a directive', start, 'found unexpected non-alphabetical character');
    return this.s.slice(from, this.i);
  }
  private scanVersionNumber(start: Mark): number {
    let value = 0;
    let length = 0;
    while (isDigit(this.c())) {
      if (++length > 9) this.error('while scanning a %YAML directive', start, 'found extremely long version number');
      value = value * 10 + (this.c() - 48);
      this.skip();
    }
    if (length === 0) this.error('while scanning a %YAML directive', start, 'did not find expected version number');
    return value;
  }
  private scanAnchor(type: T): Token {
    const start = this.mark();
    this.skip();
    const from = this.i;
    while (isAlpha(this.c())) this.skip();
    const c = this.c();
    if (this.i === from || !(isBlankZ(c) || c === 0x3f || c === 0x3a || c === 0x2c || c === 0x5d || c === 0x7d || c === 0x25 || c === 0x40 || c === 0x60)) {
      this.error(type === T.Anchor ? 'while scanning an anchor' : 'while scanning an alias', start, 'did not find expected alphabetic or numeric character');
    }
    return { type, start, end: this.mark(), value: this.s.slice(from, this.i) };
  }
  private scanTag(): Token {
    const start = this.mark();
    let handle: string;
    let suffix: string;
    if (this.c(1) === 0x3c) {
      handle = '';
      this.skip();
      this.skip();
      suffix = this.scanTagUri(true, false, null, start);
      if (this.c() !== 0x3e) this.error('while scanning a tag', start, "did not find the expected '>'");
      this.skip();
    } else {
      const first = this.scanTagHandle(false, start);
      if (first.length > 1 && first.startsWith('!') && first.endsWith('!')) {
        handle = first;
        suffix = this.scanTagUri(false, false, null, start);
      } else {
        suffix = this.scanTagUri(false, false, first, start);
        handle = '!';
        if (suffix === '') {
          handle = '';
          suffix = '!';
        }
      }
    }
    if (!isBlankZ(this.c())) {
      if (this.flowLevel === 0 || this.c() !== 0x2c) this.error('while scanning a tag', start, 'did not find expected whitespace or line break');
    }
    return { type: T.Tag, start, end: this.mark(), handle, suffix };
  }
  private scanTagHandle(directive: boolean, start: Mark): string {
    if (this.c() !== 0x21) this.error(directive ? 'while scanning a tag directive' : 'while scanning a tag', start, "did not find expected '!'");
    const from = this.i;
    this.skip();
    while (isAlpha(this.c())) this.skip();
    if (this.c() === 0x21) this.skip();
    else if (directive && this.s.slice(from, this.i) !== '!') this.error('while parsing a tag directive', start, "did not find expected '!'");
    return this.s.slice(from, this.i);
  }
  private scanTagUri(verbatim: boolean, directive: boolean, head: string | null, start: Mark): string {
    let out = head && head.length > 1 ? head.slice(1) : '';
    let length = head ? head.length : 0;
    while (isUriChar(this.c(), verbatim)) {
      if (this.c() === 0x25) out += this.scanUriEscapes(directive, start);
      else {
        out += this.s[this.i];
        this.skip();
      }
      length++;
    }
    if (length === 0) this.error(directive ? 'while parsing a %TAG directive' : 'while parsing a tag', start, 'did not find expected tag URI');
    return out;
  }
  private scanUriEscapes(directive: boolean, start: Mark): string {
    const context = directive ? 'while parsing a %TAG directive' : 'while parsing a tag';
    const bytes: number[] = [];
    let width = 0;
    do {
      const high = hexValue(this.c(1));
      const low = hexValue(this.c(2));
      if (this.c() !== 0x25 || high < 0 || low < 0) this.error(context, start, 'did not find URI escaped octet');
      const octet = (high << 4) + low;
      if (width === 0) {
        width = (octet & 0x80) === 0 ? 1 : (octet & 0xe0) === 0xc0 ? 2 : (octet & 0xf0) === 0xe0 ? 3 : (octet & 0xf8) === 0xf0 ? 4 : 0;
        if (width === 0) this.error(context, start, 'found an incorrect leading UTF-8 octet');
      } else if ((octet & 0xc0) !== 0x80) {
        this.error(context, start, 'found an incorrect trailing UTF-8 octet');
      }
      bytes.push(octet);
      this.skip();
      this.skip();
      this.skip();
    } while (--width > 0);
    return Buffer.from(bytes).toString('utf8');
  }

  private scanBlockScalar(literal: boolean): Token {
    const start = this.mark();
    this.skip();
    let chomping = 0;
    let increment = 0;
    const context = 'while scanning a block scalar';
    if (this.c() === 0x2b || this.c() === 0x2d) {
      chomping = this.c() === 0x2b ? 1 : -1;
      this.skip();
      if (isDigit(this.c())) {
        if (this.c() === 0x30) this.error(context, start, 'found an indentation indicator equal to 0');
        increment = this.c() - 48;
        this.skip();
      }
    } else if (isDigit(this.c())) {
      if (this.c() === 0x30) this.error(context, start, 'found an indentation indicator equal to 0');
      increment = this.c() - 48;
      this.skip();
      if (this.c() === 0x2b || this.c() === 0x2d) {
        chomping = this.c() === 0x2b ? 1 : -1;
        this.skip();
      }
    }
    while (isBlank(this.c())) this.skip();
    if (this.c() === 0x23) while (!isBreakZ(this.c())) this.skip();
    if (!isBreakZ(this.c())) this.error(context, start, 'did not find expected comment or line break');
    if (isBreak(this.c())) this.skipLine();
    let end = this.mark();
    let indent = 0;
    if (increment) indent = this.indent >= 0 ? this.indent + increment : increment;
    let out = '';
    let leadingBreak = '';
    let trailingBreaks = '';
    const breaks = (): void => {
      let maxIndent = 0;
      end = this.mark();
      for (;;) {
        while ((!indent || this.col < indent) && this.c() === 32) this.skip();
        if (this.col > maxIndent) maxIndent = this.col;
        if ((!indent || this.col < indent) && this.c() === 9) this.error(context, start, 'found a tab character where an indentation space is expected');
        if (!isBreak(this.c())) break;
        trailingBreaks += this.readLine();
        end = this.mark();
      }
      if (!indent) {
        indent = maxIndent;
        if (indent < this.indent + 1) indent = this.indent + 1;
        if (indent < 1) indent = 1;
      }
    };
    breaks();
    let leadingBlank = false;
    while (this.col === indent && !(this.c() === 0 && this.i >= this.s.length)) {
      const trailingBlank = isBlank(this.c());
      if (!literal && leadingBreak === '\n' && !leadingBlank && !trailingBlank) {
        if (trailingBreaks === '') out += ' ';
        leadingBreak = '';
      } else {
        out += leadingBreak;
        leadingBreak = '';
      }
      out += trailingBreaks;
      trailingBreaks = '';
      leadingBlank = isBlank(this.c());
      const from = this.i;
      while (!isBreakZ(this.c()) || (this.c() === 0 && this.i < this.s.length)) this.skip();
      out += this.s.slice(from, this.i);
      leadingBreak = this.readLine();
      breaks();
    }
    if (chomping !== -1) out += leadingBreak;
    if (chomping === 1) out += trailingBreaks;
    return { type: T.Scalar, start, end, value: out, style: literal ? 'literal' : 'folded' };
  }

  private scanFlowScalar(single: boolean): Token {
    const start = this.mark();
    this.skip();
    let out = '';
    const context = 'while scanning a quoted scalar';
    for (;;) {
      if (
        this.col === 0 &&
        ((this.c() === 0x2d && this.c(1) === 0x2d && this.c(2) === 0x2d) || (this.c() === 0x2e && this.c(1) === 0x2e && this.c(2) === 0x2e)) &&
        isBlankZ(this.c(3))
      ) {
        this.error(context, start, 'found unexpected document indicator');
      }
      if (this.i >= this.s.length) this.error(context, start, 'found unexpected end of stream');
      let leadingBlanks = false;
      while (!isBlankZ(this.c()) || (this.c() === 0 && this.i < this.s.length)) {
        const c = this.c();
        if (single && c === 0x27 && this.c(1) === 0x27) {
          out += "'";
          this.skip();
          this.skip();
        } else if (c === (single ? 0x27 : 0x22)) {
          break;
        } else if (!single && c === 0x5c && isBreak(this.c(1))) {
          this.skip();
          this.skipLine();
          leadingBlanks = true;
          break;
        } else if (!single && c === 0x5c) {
          let length = 0;
          const e = this.c(1);
          switch (e) {
            case 0x30: out += '\0'; break;
            case 0x61: out += '\x07'; break;
            case 0x62: out += '\b'; break;
            case 0x74: case 0x09: out += '\t'; break;
            case 0x6e: out += '\n'; break;
            case 0x76: out += '\v'; break;
            case 0x66: out += '\f'; break;
            case 0x72: out += '\r'; break;
            case 0x65: out += '\x1b'; break;
            case 0x20: out += ' '; break;
            case 0x22: out += '"'; break;
            case 0x2f: out += '/'; break;
            case 0x5c: out += '\\'; break;
            case 0x4e: out += '\x85'; break;
            case 0x5f: out += '\xa0'; break;
            case 0x4c: out += '\u2028'; break;
            case 0x50: out += '\u2029'; break;
            case 0x78: length = 2; break;
            case 0x75: length = 4; break;
            case 0x55: length = 8; break;
            default:
              this.error('while parsing a quoted scalar', start, 'found unknown escape character');
          }
          this.skip();
          this.skip();
          if (length) {
            let value = 0;
            for (let k = 0; k < length; k++) {
              const h = hexValue(this.c(k));
              if (h < 0) this.error('while parsing a quoted scalar', start, 'did not find expected hexdecimal number');
              value = value * 16 + h;
            }
            if ((value >= 0xd800 && value <= 0xdfff) || value > 0x10ffff) {
              this.error('while parsing a quoted scalar', start, 'found invalid Unicode character escape code');
            }
            out += String.fromCodePoint(value);
            for (let k = 0; k < length; k++) this.skip();
          }
        } else {
          out += this.s[this.i];
          this.skip();
        }
      }
      if (this.c() === (single ? 0x27 : 0x22)) break;
      let whitespaces = '';
      let leadingBreak = '';
      let trailingBreaks = '';
      while (isBlank(this.c()) || isBreak(this.c())) {
        if (isBlank(this.c())) {
          if (!leadingBlanks) whitespaces += this.s[this.i];
          this.skip();
        } else if (!leadingBlanks) {
          whitespaces = '';
          leadingBreak = this.readLine();
          leadingBlanks = true;
        } else {
          trailingBreaks += this.readLine();
        }
      }
      if (leadingBlanks) {
        if (leadingBreak === '\n') {
          out += trailingBreaks === '' ? ' ' : trailingBreaks;
        } else {
          out += leadingBreak + trailingBreaks;
        }
      } else {
        out += whitespaces;
      }
    }
    this.skip();
    return { type: T.Scalar, start, end: this.mark(), value: out, style: single ? 'single' : 'double' };
  }

  private scanPlainScalar(): Token {
    const start = this.mark();
    let end = this.mark();
    const indent = this.indent + 1;
    let out = '';
    let leadingBlanks = false;
    let whitespaces = '';
    let leadingBreak = '';
    let trailingBreaks = '';
    for (;;) {
      if (
        this.col === 0 &&
        ((this.c() === 0x2d && this.c(1) === 0x2d && this.c(2) === 0x2d) || (this.c() === 0x2e && this.c(1) === 0x2e && this.c(2) === 0x2e)) &&
        isBlankZ(this.c(3))
      ) {
        break;
      }
      if (this.c() === 0x23) break;
      while (!isBlankZ(this.c()) || (this.c() === 0 && this.i < this.s.length)) {
        const c = this.c();
        if (this.flowLevel > 0 && c === 0x3a && ',?[]{}'.includes(String.fromCharCode(this.c(1))) && this.c(1) !== 0) {
          this.error('while scanning a plain scalar', start, "found unexpected ':'");
        }
        if ((c === 0x3a && isBlankZ(this.c(1))) || (this.flowLevel > 0 && (c === 0x2c || c === 0x5b || c === 0x5d || c === 0x7b || c === 0x7d))) break;
        if (leadingBlanks || whitespaces !== '') {
          if (leadingBlanks) {
            if (leadingBreak === '\n') {
              if (trailingBreaks === '') out += ' ';
              else {
                out += trailingBreaks;
                trailingBreaks = '';
              }
              leadingBreak = '';
            } else {
              out += leadingBreak + trailingBreaks;
              leadingBreak = '';
              trailingBreaks = '';
            }
            leadingBlanks = false;
          } else {
            out += whitespaces;
            whitespaces = '';
          }
        }
        out += this.s[this.i];
        this.skip();
        end = this.mark();
      }
      if (!(isBlank(this.c()) || isBreak(this.c()))) break;
      while (isBlank(this.c()) || isBreak(this.c())) {
        if (isBlank(this.c())) {
          if (leadingBlanks && this.col < indent && this.c() === 9) {
            this.error('while scanning a plain scalar', start, 'found a tab character that violates indentation');
          }
          if (!leadingBlanks) whitespaces += this.s[this.i];
          this.skip();
        } else if (!leadingBlanks) {
          whitespaces = '';
          leadingBreak = this.readLine();
          leadingBlanks = true;
        } else {
          trailingBreaks += this.readLine();
        }
      }
      if (this.flowLevel === 0 && this.col < indent) break;
    }
    if (leadingBlanks) this.simpleKeyAllowed = true;
    return { type: T.Scalar, start, end, value: out, style: 'plain' };
  }
}

// --- the parser --------------------------------------------------------------------------------------

export type YamlEvent =
  | { type: 'stream-start' | 'stream-end'; start: Mark; end: Mark }
  | { type: 'document-start'; start: Mark; end: Mark; implicit: boolean }
  | { type: 'document-end'; start: Mark; end: Mark; implicit: boolean }
  | { type: 'alias'; start: Mark; end: Mark; anchor: string }
  | {
      type: 'scalar';
      start: Mark;
      end: Mark;
      anchor: string | null;
      tag: string | null;
      value: string;
      plainImplicit: boolean;
      quotedImplicit: boolean;
      style: ScalarStyle;
    }
  | { type: 'sequence-start' | 'mapping-start'; start: Mark; end: Mark; anchor: string | null; tag: string | null; implicit: boolean; flow: boolean }
  | { type: 'sequence-end' | 'mapping-end'; start: Mark; end: Mark };

const enum S {
  StreamStart,
  ImplicitDocumentStart,
  DocumentStart,
  DocumentContent,
  DocumentEnd,
  BlockNode,
  BlockNodeOrIndentlessSequence,
  FlowNode,
  BlockSequenceFirstEntry,
  BlockSequenceEntry,
  IndentlessSequenceEntry,
  BlockMappingFirstKey,
  BlockMappingKey,
  BlockMappingValue,
  FlowSequenceFirstEntry,
  FlowSequenceEntry,
  FlowSequenceEntryMappingKey,
  FlowSequenceEntryMappingValue,
  FlowSequenceEntryMappingEnd,
  FlowMappingFirstKey,
  FlowMappingKey,
  FlowMappingValue,
  FlowMappingEmptyValue,
  End,
}

/** libyaml's parser: pull one event at a time with `next()`; null after the stream end. */
export class YamlParser {
  private readonly scanner: Scanner;
  private state: S = S.StreamStart;
  private readonly states: S[] = [];
  private readonly marks: Mark[] = [];
  private tagDirectives: { handle: string; prefix: string }[] = [];

  constructor(text: string) {
    this.scanner = new Scanner(text);
  }

  private fail(context: string | null, contextMark: Mark | null, problem: string, problemMark: Mark): never {
    throw new YamlError(context, contextMark, problem, problemMark, 'parser');
  }

  next(): YamlEvent | null {
    if (this.state === S.End) return null;
    switch (this.state) {
      case S.StreamStart: {
        const token = this.scanner.peek();
        if (token.type !== T.StreamStart) this.fail(null, null, 'did not find expected <stream-start>', token.start);
        this.state = S.ImplicitDocumentStart;
        this.scanner.next();
        return { type: 'stream-start', start: token.start, end: token.end };
      }
      case S.ImplicitDocumentStart:
        return this.documentStart(true);
      case S.DocumentStart:
        return this.documentStart(false);
      case S.DocumentContent: {
        const token = this.scanner.peek();
        if (token.type === T.VersionDirective || token.type === T.TagDirective || token.type === T.DocumentStart || token.type === T.DocumentEnd || token.type === T.StreamEnd) {
          this.state = this.states.pop()!;
          return emptyScalar(token.start);
        }
        return this.node(true, false);
      }
      case S.DocumentEnd: {
        const token = this.scanner.peek();
        let end = token.start;
        let implicit = true;
        if (token.type === T.DocumentEnd) {
          end = token.end;
          this.scanner.next();
          implicit = false;
        }
        this.tagDirectives = [];
        this.state = S.DocumentStart;
        return { type: 'document-end', start: token.start, end, implicit };
      }
      case S.BlockNode:
        return this.node(true, false);
      case S.BlockNodeOrIndentlessSequence:
        return this.node(true, true);
      case S.FlowNode:
        return this.node(false, false);
      case S.BlockSequenceFirstEntry:
        return this.blockSequenceEntry(true);
      case S.BlockSequenceEntry:
        return this.blockSequenceEntry(false);
      case S.IndentlessSequenceEntry:
        return this.indentlessSequenceEntry();
      case S.BlockMappingFirstKey:
        return this.blockMappingKey(true);
      case S.BlockMappingKey:
        return this.blockMappingKey(false);
      case S.BlockMappingValue:
        return this.blockMappingValue();
      case S.FlowSequenceFirstEntry:
        return this.flowSequenceEntry(true);
      case S.FlowSequenceEntry:
        return this.flowSequenceEntry(false);
      case S.FlowSequenceEntryMappingKey: {
        const token = this.scanner.peek();
        if (token.type !== T.Value && token.type !== T.FlowEntry && token.type !== T.FlowSequenceEnd) {
          this.states.push(S.FlowSequenceEntryMappingValue);
          return this.node(false, false);
        }
        // libyaml consumes the token here (so "[? ]" loses its ']'), and so do we.
        this.scanner.next();
        this.state = S.FlowSequenceEntryMappingValue;
        return emptyScalar(token.end);
      }
      case S.FlowSequenceEntryMappingValue: {
        let token = this.scanner.peek();
        if (token.type === T.Value) {
          this.scanner.next();
          token = this.scanner.peek();
          if (token.type !== T.FlowEntry && token.type !== T.FlowSequenceEnd) {
            this.states.push(S.FlowSequenceEntryMappingEnd);
            return this.node(false, false);
          }
        }
        this.state = S.FlowSequenceEntryMappingEnd;
        return emptyScalar(token.start);
      }
      case S.FlowSequenceEntryMappingEnd: {
        const token = this.scanner.peek();
        this.state = S.FlowSequenceEntry;
        return { type: 'mapping-end', start: token.start, end: token.start };
      }
      case S.FlowMappingFirstKey:
        return this.flowMappingKey(true);
      case S.FlowMappingKey:
        return this.flowMappingKey(false);
      case S.FlowMappingValue:
        return this.flowMappingValue(false);
      case S.FlowMappingEmptyValue:
        return this.flowMappingValue(true);
    }
    return null;
  }

  private documentStart(implicit: boolean): YamlEvent {
    let token = this.scanner.peek();
    if (!implicit) {
      while (token.type === T.DocumentEnd) {
        this.scanner.next();
        token = this.scanner.peek();
      }
    }
    if (implicit && token.type !== T.VersionDirective && token.type !== T.TagDirective && token.type !== T.DocumentStart && token.type !== T.StreamEnd) {
      this.processDirectives();
      this.states.push(S.DocumentEnd);
      this.state = S.BlockNode;
      return { type: 'document-start', start: token.start, end: token.start, implicit: true };
    }
    if (token.type !== T.StreamEnd) {
      const start = token.start;
      this.processDirectives();
      token = this.scanner.peek();
      if (token.type !== T.DocumentStart) this.fail(null, null, 'did not find expected <document start>', token.start);
      this.states.push(S.DocumentEnd);
      this.state = S.DocumentContent;
      this.scanner.next();
      return { type: 'document-start', start, end: token.end, implicit: false };
    }
    this.state = S.End;
    this.scanner.next();
    return { type: 'stream-end', start: token.start, end: token.end };
  }

  private processDirectives(): void {
    let versionSeen = false;
    const tags: { handle: string; prefix: string }[] = [];
    for (;;) {
      const token = this.scanner.peek();
      if (token.type === T.VersionDirective) {
        if (versionSeen) this.fail(null, null, 'found duplicate %YAML directive', token.start);
        if (token.major !== 1 || (token.minor !== 1 && token.minor !== 2)) this.fail(null, null, 'found incompatible YAML document', token.start);
        versionSeen = true;
      } else if (token.type === T.TagDirective) {
        if (tags.some((t) => t.handle === token.handle)) this.fail(null, null, 'found duplicate %TAG directive', token.start);
        tags.push({ handle: token.handle!, prefix: token.value! });
      } else {
        break;
      }
      this.scanner.next();
    }
    for (const fallback of [{ handle: '!', prefix: '!' }, { handle: '!!', prefix: 'tag:yaml.org,2002:' }]) {
      if (!tags.some((t) => t.handle === fallback.handle)) tags.push(fallback);
    }
    this.tagDirectives = tags;
  }

  private node(block: boolean, indentlessSequence: boolean): YamlEvent {
    let token = this.scanner.peek();
    if (token.type === T.Alias) {
      this.state = this.states.pop()!;
      this.scanner.next();
      return { type: 'alias', start: token.start, end: token.end, anchor: token.value! };
    }
    let start = token.start;
    let end = token.start;
    let tagMark = token.start;
    let anchor: string | null = null;
    let handle: string | null = null;
    let suffix: string | null = null;
    if (token.type === T.Anchor) {
      anchor = token.value!;
      start = token.start;
      end = token.end;
      this.scanner.next();
      token = this.scanner.peek();
      if (token.type === T.Tag) {
        handle = token.handle!;
        suffix = token.suffix!;
        tagMark = token.start;
        end = token.end;
        this.scanner.next();
        token = this.scanner.peek();
      }
    } else if (token.type === T.Tag) {
      handle = token.handle!;
      suffix = token.suffix!;
      start = tagMark = token.start;
      end = token.end;
      this.scanner.next();
      token = this.scanner.peek();
      if (token.type === T.Anchor) {
        anchor = token.value!;
        end = token.end;
        this.scanner.next();
        token = this.scanner.peek();
      }
    }
    let tag: string | null = null;
    if (handle !== null) {
      if (handle === '') tag = suffix;
      else {
        const directive = this.tagDirectives.find((t) => t.handle === handle);
        if (!directive) this.fail('while parsing a node', start, 'found undefined tag handle', tagMark);
        tag = directive.prefix + suffix;
      }
    }
    const implicit = tag === null || tag === '';
    if (indentlessSequence && token.type === T.BlockEntry) {
      this.state = S.IndentlessSequenceEntry;
      return { type: 'sequence-start', start, end: token.end, anchor, tag, implicit, flow: false };
    }
    if (token.type === T.Scalar) {
      let plainImplicit = false;
      let quotedImplicit = false;
      if ((token.style === 'plain' && tag === null) || tag === '!') plainImplicit = true;
      else if (tag === null) quotedImplicit = true;
      this.state = this.states.pop()!;
      this.scanner.next();
      return { type: 'scalar', start, end: token.end, anchor, tag, value: token.value!, plainImplicit, quotedImplicit, style: token.style! };
    }
    if (token.type === T.FlowSequenceStart) {
      this.state = S.FlowSequenceFirstEntry;
      return { type: 'sequence-start', start, end: token.end, anchor, tag, implicit, flow: true };
    }
    if (token.type === T.FlowMappingStart) {
      this.state = S.FlowMappingFirstKey;
      return { type: 'mapping-start', start, end: token.end, anchor, tag, implicit, flow: true };
    }
    if (block && token.type === T.BlockSequenceStart) {
      this.state = S.BlockSequenceFirstEntry;
      return { type: 'sequence-start', start, end: token.end, anchor, tag, implicit, flow: false };
    }
    if (block && token.type === T.BlockMappingStart) {
      this.state = S.BlockMappingFirstKey;
      return { type: 'mapping-start', start, end: token.end, anchor, tag, implicit, flow: false };
    }
    if (anchor !== null || tag !== null) {
      this.state = this.states.pop()!;
      return { type: 'scalar', start, end, anchor, tag, value: '', plainImplicit: implicit, quotedImplicit: false, style: 'plain' };
    }
    this.fail(block ? 'while parsing a block node' : 'while parsing a flow node', start, 'did not find expected node content', token.start);
  }

  private blockSequenceEntry(first: boolean): YamlEvent {
    if (first) this.marks.push(this.scanner.next().start);
    let token = this.scanner.peek();
    if (token.type === T.BlockEntry) {
      const mark = token.end;
      this.scanner.next();
      token = this.scanner.peek();
      if (token.type !== T.BlockEntry && token.type !== T.BlockEnd) {
        this.states.push(S.BlockSequenceEntry);
        return this.node(true, false);
      }
      this.state = S.BlockSequenceEntry;
      return emptyScalar(mark);
    }
    if (token.type === T.BlockEnd) {
      this.state = this.states.pop()!;
      this.marks.pop();
      this.scanner.next();
      return { type: 'sequence-end', start: token.start, end: token.end };
    }
    this.fail('while parsing a block collection', this.marks.pop()!, "did not find expected '-' indicator", token.start);
  }

  private indentlessSequenceEntry(): YamlEvent {
    let token = this.scanner.peek();
    if (token.type === T.BlockEntry) {
      const mark = token.end;
      this.scanner.next();
      token = this.scanner.peek();
      if (token.type !== T.BlockEntry && token.type !== T.Key && token.type !== T.Value && token.type !== T.BlockEnd) {
        this.states.push(S.IndentlessSequenceEntry);
        return this.node(true, false);
      }
      this.state = S.IndentlessSequenceEntry;
      return emptyScalar(mark);
    }
    this.state = this.states.pop()!;
    return { type: 'sequence-end', start: token.start, end: token.start };
  }

  private blockMappingKey(first: boolean): YamlEvent {
    if (first) this.marks.push(this.scanner.next().start);
    let token = this.scanner.peek();
    if (token.type === T.Key) {
      const mark = token.end;
      this.scanner.next();
      token = this.scanner.peek();
      if (token.type !== T.Key && token.type !== T.Value && token.type !== T.BlockEnd) {
        this.states.push(S.BlockMappingValue);
        return this.node(true, true);
      }
      this.state = S.BlockMappingValue;
      return emptyScalar(mark);
    }
    if (token.type === T.BlockEnd) {
      this.state = this.states.pop()!;
      this.marks.pop();
      this.scanner.next();
      return { type: 'mapping-end', start: token.start, end: token.end };
    }
    this.fail('while parsing a block mapping', this.marks.pop()!, 'did not find expected key', token.start);
  }

  private blockMappingValue(): YamlEvent {
    let token = this.scanner.peek();
    if (token.type === T.Value) {
      const mark = token.end;
      this.scanner.next();
      token = this.scanner.peek();
      if (token.type !== T.Key && token.type !== T.Value && token.type !== T.BlockEnd) {
        this.states.push(S.BlockMappingKey);
        return this.node(true, true);
      }
      this.state = S.BlockMappingKey;
      return emptyScalar(mark);
    }
    this.state = S.BlockMappingKey;
    return emptyScalar(token.start);
  }

  private flowSequenceEntry(first: boolean): YamlEvent {
    if (first) this.marks.push(this.scanner.next().start);
    let token = this.scanner.peek();
    if (token.type !== T.FlowSequenceEnd) {
      if (!first) {
        if (token.type === T.FlowEntry) {
          this.scanner.next();
          token = this.scanner.peek();
        } else {
          this.fail('while parsing a flow sequence', this.marks.pop()!, "did not find expected ',' or ']'", token.start);
        }
      }
      if (token.type === T.Key) {
        this.state = S.FlowSequenceEntryMappingKey;
        this.scanner.next();
        return { type: 'mapping-start', start: token.start, end: token.end, anchor: null, tag: null, implicit: true, flow: true };
      }
      if (token.type !== T.FlowSequenceEnd) {
        this.states.push(S.FlowSequenceEntry);
        return this.node(false, false);
      }
    }
    this.state = this.states.pop()!;
    this.marks.pop();
    this.scanner.next();
    return { type: 'sequence-end', start: token.start, end: token.end };
  }

  private flowMappingKey(first: boolean): YamlEvent {
    if (first) this.marks.push(this.scanner.next().start);
    let token = this.scanner.peek();
    if (token.type !== T.FlowMappingEnd) {
      if (!first) {
        if (token.type === T.FlowEntry) {
          this.scanner.next();
          token = this.scanner.peek();
        } else {
          this.fail('while parsing a flow mapping', this.marks.pop()!, "did not find expected ',' or '}'", token.start);
        }
      }
      if (token.type === T.Key) {
        this.scanner.next();
        token = this.scanner.peek();
        if (token.type !== T.Value && token.type !== T.FlowEntry && token.type !== T.FlowMappingEnd) {
          this.states.push(S.FlowMappingValue);
          return this.node(false, false);
        }
        this.state = S.FlowMappingValue;
        return emptyScalar(token.start);
      }
      if (token.type !== T.FlowMappingEnd) {
        this.states.push(S.FlowMappingEmptyValue);
        return this.node(false, false);
      }
    }
    this.state = this.states.pop()!;
    this.marks.pop();
    this.scanner.next();
    return { type: 'mapping-end', start: token.start, end: token.end };
  }

  private flowMappingValue(empty: boolean): YamlEvent {
    let token = this.scanner.peek();
    if (empty) {
      this.state = S.FlowMappingKey;
      return emptyScalar(token.start);
    }
    if (token.type === T.Value) {
      this.scanner.next();
      token = this.scanner.peek();
      if (token.type !== T.FlowEntry && token.type !== T.FlowMappingEnd) {
        this.states.push(S.FlowMappingKey);
        return this.node(false, false);
      }
    }
    this.state = S.FlowMappingKey;
    return emptyScalar(token.start);
  }
}

function emptyScalar(mark: Mark): YamlEvent {
  return { type: 'scalar', start: mark, end: mark, anchor: null, tag: null, value: '', plainImplicit: true, quotedImplicit: false, style: 'plain' };
}
