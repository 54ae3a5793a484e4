/**
 * Small, valid PDFs written byte by byte for the tests (no fixture files): pages of text in any
 * script, and pages with no text layer (a "scan"). Text is drawn with a Type0 font (Identity-H)
 * whose ToUnicode map names each glyph's character, as PDF writers do for non-Latin text; no font
 * program is embedded, which text extraction does not need. A line in a right-to-left script is
 * drawn in visual order (its last character first, leftmost), as a real PDF of Persian text is,
 * so a reader must put it back in logical order. A line's direction is that of its first letter
 * (digits, Persian ones too, have none of their own): "Budget: ۱۲۰" is a left-to-right line.
 */

/** One page: its lines of text, or `scan` for a page with only a picture-like fill and no text. */
export type PdfPage = readonly string[] | 'scan';

const RTL = /[\u0590-\u08FF\uFB1D-\uFDFF\uFE70-\uFEFF]/;

export function pdfOf(pages: readonly PdfPage[]): Buffer {
  const characters = [...new Set(pages.flatMap((page) => (page === 'scan' ? [] : page.flatMap((line) => [...line]))))];
  const glyph = (character: string): string => (characters.indexOf(character) + 1).toString(16).padStart(4, '0');
  const utf16 = (character: string): string => Buffer.from(character, 'utf16le').swap16().toString('hex').toUpperCase();

  const objects: (string | undefined)[] = [];
  const add = (body?: string): number => {
    objects.push(body);
    return objects.length;
  };
  const set = (id: number, body: string): void => {
    objects[id - 1] = body;
  };
  const stream = (content: string): string =>
    `<< /Length ${Buffer.byteLength(content, 'latin1')} >>\nstream\n${content}\nendstream`;

  const catalog = add();
  const pageTree = add();
  const font = add();
  const cidFont = add();
  const descriptor = add();
  const toUnicode = add();
  set(catalog, `<< /Type /Catalog /Pages ${pageTree} 0 R >>`);
  set(
    font,
    `<< /Type /Font /Subtype /Type0 /BaseFont /TestSans /Encoding /Identity-H /DescendantFonts [${cidFont} 0 R] /ToUnicode ${toUnicode} 0 R >>`,
  );
  // Combining marks (the Persian ezafe ٔ, vowel signs) take no room of their own, as in a real font.
  const marks = characters.filter((character) => /[\p{Mn}\p{Cf}]/u.test(character));
  const widths = marks.map((mark) => `${characters.indexOf(mark) + 1} [0]`).join(' ');
  set(
    cidFont,
    `<< /Type /Font /Subtype /CIDFontType2 /BaseFont /TestSans /CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> /FontDescriptor ${descriptor} 0 R /DW 500 /W [${widths}] /CIDToGIDMap /Identity >>`,
  );
  set(
    descriptor,
    '<< /Type /FontDescriptor /FontName /TestSans /Flags 32 /FontBBox [0 -250 1000 900] /ItalicAngle 0 /Ascent 900 /Descent -250 /CapHeight 700 /StemV 80 >>',
  );
  const mappings = characters.map((character) => `<${glyph(character)}> <${utf16(character)}>`);
  const chunks: string[] = [];
  // A bfchar block holds at most 100 entries.
  for (let index = 0; index < mappings.length; index += 100) {
    const block = mappings.slice(index, index + 100);
    chunks.push(`${block.length} beginbfchar ${block.join(' ')} endbfchar`);
  }
  set(
    toUnicode,
    stream(
      '/CIDInit /ProcSet findresource begin 12 dict begin begincmap /CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def ' +
        `/CMapName /Adobe-Identity-UCS def /CMapType 2 def 1 begincodespacerange <0000> <FFFF> endcodespacerange ${chunks.join(' ')} endcmap CMapName currentdict /CMap defineresource pop end end`,
    ),
  );

  const kids: number[] = [];
  for (const page of pages) {
    const content =
      page === 'scan'
        ? '0.5 g 72 72 468 648 re f'
        : `BT /F1 10 Tf 40 780 Td 12 TL ${page
            .map((line) => {
              const glyphs = [...line];
              const firstLetter = glyphs.find((character) => /\p{L}/u.test(character)) ?? '';
              const drawn = RTL.test(firstLetter) ? glyphs.reverse() : glyphs;
              return `<${drawn.map(glyph).join('')}> '`;
            })
            .join(' ')} ET`;
    const contents = add(stream(content));
    kids.push(
      add(
        `<< /Type /Page /Parent ${pageTree} 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 ${font} 0 R >> >> /Contents ${contents} 0 R >>`,
      ),
    );
  }
  set(pageTree, `<< /Type /Pages /Kids [${kids.map((kid) => `${kid} 0 R`).join(' ')}] /Count ${kids.length} >>`);

  let out = '%PDF-1.7\n';
  const offsets: number[] = [];
  for (const [index, body] of objects.entries()) {
    offsets.push(Buffer.byteLength(out, 'latin1'));
    out += `${index + 1} 0 obj\n${body}\nendobj\n`;
  }
  const xref = Buffer.byteLength(out, 'latin1');
  out += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const offset of offsets) out += `${String(offset).padStart(10, '0')} 00000 n \n`;
  out += `trailer\n<< /Size ${objects.length + 1} /Root ${catalog} 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(out, 'latin1');
}
