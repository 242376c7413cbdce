//! Reading export files into rows of cells, whatever their format and encoding.
//!
//! A row that cannot be read (broken quoting, wrong number of fields, invalid encoding, bad
//! JSON) is still yielded, with a `problem`, so that it reaches the rejects table with its line;
//! only a file that cannot be opened or parsed at all is an error.

use anyhow::{bail, Context, Result};
use std::borrow::Cow;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Spreadsheet,
    Jsonl,
}

impl Format {
    pub fn from_path(path: &Path) -> Result<Format> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .unwrap_or_default();
        Ok(match ext.as_str() {
            "csv" | "tsv" | "txt" => Format::Csv,
            "xlsx" | "xlsm" | "xls" | "xlsb" | "ods" => Format::Spreadsheet,
            "jsonl" | "ndjson" | "json" => Format::Jsonl,
            _ => bail!(
                "{}: unknown file type '.{ext}' (expected .csv, .tsv, .xlsx, .xls, .ods, .jsonl or .ndjson)",
                path.display()
            ),
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Spreadsheet => "spreadsheet",
            Format::Jsonl => "jsonl",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextEncoding {
    Utf8,
    Utf8Bom,
    Gb18030,
}

impl TextEncoding {
    pub fn name(self) -> &'static str {
        match self {
            TextEncoding::Utf8 => "UTF-8",
            TextEncoding::Utf8Bom => "UTF-8 (BOM)",
            TextEncoding::Gb18030 => "GB18030",
        }
    }

    /// Strict decoding: `None` when the bytes are not valid in this encoding.
    pub fn decode<'a>(self, bytes: &'a [u8]) -> Option<Cow<'a, str>> {
        match self {
            TextEncoding::Utf8 | TextEncoding::Utf8Bom => {
                std::str::from_utf8(bytes).ok().map(Cow::Borrowed)
            }
            TextEncoding::Gb18030 => {
                encoding_rs::GB18030.decode_without_bom_handling_and_without_replacement(bytes)
            }
        }
    }

    /// Lossy decoding, for showing a bad row in the rejects table.
    pub fn decode_lossy<'a>(self, bytes: &'a [u8]) -> Cow<'a, str> {
        match self {
            TextEncoding::Utf8 | TextEncoding::Utf8Bom => String::from_utf8_lossy(bytes),
            TextEncoding::Gb18030 => encoding_rs::GB18030.decode_without_bom_handling(bytes).0,
        }
    }
}

/// Decides between UTF-8 and GB18030 from the start of a file.
///
/// GBK/GB18030 Chinese is almost never valid UTF-8, while UTF-8 Chinese often decodes as GB18030
/// without errors, so the test is one-sided: UTF-8 unless invalid sequences are more than a
/// small share of the multi-byte characters (a UTF-8 file with a few corrupt rows stays UTF-8,
/// and those rows are rejected).
pub fn detect_encoding(sample: &[u8]) -> TextEncoding {
    if sample.starts_with(&[0xef, 0xbb, 0xbf]) {
        return TextEncoding::Utf8Bom;
    }
    let (mut valid_multibyte, mut invalid) = (0usize, 0usize);
    let mut chunks = sample.utf8_chunks().peekable();
    while let Some(chunk) = chunks.next() {
        valid_multibyte += chunk.valid().chars().filter(|c| !c.is_ascii()).count();
        // An incomplete character cut off at the end of the sample is not an error.
        if !chunk.invalid().is_empty() && chunks.peek().is_some() {
            invalid += 1;
        }
    }
    if invalid == 0 || valid_multibyte >= 20 * invalid {
        TextEncoding::Utf8
    } else {
        TextEncoding::Gb18030
    }
}

/// One row as read: its line in the file, its cells (decoded, header order for tables, key
/// order for JSONL) and, if it could not be read cleanly, why.
#[derive(Debug)]
pub struct RawRow {
    pub line: u64,
    /// For CSV and spreadsheets the header names are the reader's; JSONL rows carry their keys.
    pub keys: Option<Vec<String>>,
    pub cells: Vec<String>,
    pub problem: Option<String>,
}

pub struct Opened {
    pub format: Format,
    pub encoding: Option<TextEncoding>,
    /// Column headers, for tabular formats.
    pub headers: Option<Vec<String>>,
    pub rows: Box<dyn Iterator<Item = Result<RawRow>> + Send>,
}

const SAMPLE_BYTES: usize = 1 << 20;

fn sample_encoding(path: &Path) -> Result<TextEncoding> {
    let mut sample = Vec::with_capacity(SAMPLE_BYTES);
    File::open(path)
        .with_context(|| format!("cannot open {}", path.display()))?
        .take(SAMPLE_BYTES as u64)
        .read_to_end(&mut sample)
        .with_context(|| format!("cannot read {}", path.display()))?;
    Ok(detect_encoding(&sample))
}

pub fn open(path: &Path, sheet: Option<&str>) -> Result<Opened> {
    let format = Format::from_path(path)?;
    match format {
        Format::Csv => open_csv(path),
        Format::Spreadsheet => open_spreadsheet(path, sheet),
        Format::Jsonl => open_jsonl(path),
    }
}

fn open_csv(path: &Path) -> Result<Opened> {
    let encoding = sample_encoding(path)?;
    let mut first_line = Vec::new();
    BufReader::new(File::open(path)?).read_until(b'\n', &mut first_line)?;
    let is_tab = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("tsv"))
        || first_line.iter().filter(|&&b| b == b'\t').count()
            > first_line.iter().filter(|&&b| b == b',').count();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(if is_tab { b'\t' } else { b',' })
        .from_reader(BufReader::with_capacity(
            1 << 16,
            File::open(path).with_context(|| format!("cannot open {}", path.display()))?,
        ));
    let mut header_record = csv::ByteRecord::new();
    if !reader
        .read_byte_record(&mut header_record)
        .with_context(|| format!("{}: cannot read the header row", path.display()))?
    {
        bail!("{}: the file is empty", path.display());
    }
    let mut headers = Vec::with_capacity(header_record.len());
    for (i, field) in header_record.iter().enumerate() {
        let field = if i == 0 {
            field.strip_prefix(&[0xef, 0xbb, 0xbf]).unwrap_or(field)
        } else {
            field
        };
        match encoding.decode(field) {
            Some(h) => headers.push(h.trim().to_string()),
            None => bail!(
                "{}: the header row is not valid {} text",
                path.display(),
                encoding.name()
            ),
        }
    }
    let width = headers.len();
    let delimiter = if is_tab { '\t' } else { ',' };
    // The csv reader ends a record at the \r of a Windows line end and counts the \n into the
    // next record, whose position is then one line early and starts at that \n.
    let crlf = u64::from(first_line.ends_with(b"\r\n"));
    let mut record = csv::ByteRecord::new();
    // A second handle reads a record's raw bytes when its quoting is in doubt.
    let mut raw_file =
        File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let rows = std::iter::from_fn(move || loop {
        match reader.read_byte_record(&mut record) {
            Ok(false) => return None,
            Ok(true) => {
                let start = record
                    .position()
                    .cloned()
                    .unwrap_or_else(csv::Position::new);
                let line = start.line() + crlf;
                if memchr::memchr(b'\n', record.as_slice()).is_none() {
                    if record.iter().all(|f| f.iter().all(u8::is_ascii_whitespace)) {
                        continue;
                    }
                    return Some(Ok(decode_record(&record, line, width, encoding, delimiter)));
                }
                // A record over several lines: a quoted field with line breaks, or a quote
                // left open that swallowed the records after it. In the second case only its
                // first line is the bad row; reading goes on at the line after it.
                let end = reader.position().byte();
                let raw = match read_span(&mut raw_file, start.byte(), end) {
                    Ok(raw) => raw,
                    Err(e) => return Some(Err(e)),
                };
                let lead = raw
                    .iter()
                    .take_while(|&&b| b == b'\r' || b == b'\n')
                    .count();
                let raw = &raw[lead..];
                if quotes_close(raw, delimiter as u8) {
                    return Some(Ok(decode_record(&record, line, width, encoding, delimiter)));
                }
                let first_line = match memchr::memchr(b'\n', raw) {
                    Some(i) => &raw[..=i],
                    None => raw,
                };
                let mut resume = csv::Position::new();
                resume
                    .set_byte(start.byte() + (lead + first_line.len()) as u64)
                    .set_line(line + 1)
                    .set_record(start.record() + 1);
                if let Err(e) = reader.seek(resume) {
                    return Some(Err(anyhow::Error::new(e)));
                }
                return Some(Ok(RawRow {
                    line,
                    keys: None,
                    cells: split_line(first_line, encoding, delimiter as u8),
                    problem: Some(
                        "broken quoting: a quote is never closed (the lines after it are read as rows of their own)"
                            .to_string(),
                    ),
                }));
            }
            Err(e) => {
                // A parse error (as opposed to I/O) is the row's problem; the reader resumes
                // at the next record.
                let line = e.position().map_or(0, |p| p.line() + crlf);
                if let csv::ErrorKind::Io(_) = e.kind() {
                    return Some(Err(anyhow::Error::new(e)));
                }
                return Some(Ok(RawRow {
                    line,
                    keys: None,
                    cells: Vec::new(),
                    problem: Some(format!("unreadable CSV record: {e}")),
                }));
            }
        }
    });
    Ok(Opened {
        format: Format::Csv,
        encoding: Some(encoding),
        headers: Some(headers),
        rows: Box::new(rows),
    })
}

/// The bytes of a file from `start` to `end`.
fn read_span(file: &mut File, start: u64, end: u64) -> Result<Vec<u8>> {
    use std::io::{Seek, SeekFrom};
    let mut raw = Vec::with_capacity(end.saturating_sub(start) as usize);
    file.seek(SeekFrom::Start(start))?;
    file.by_ref()
        .take(end.saturating_sub(start))
        .read_to_end(&mut raw)?;
    Ok(raw)
}

/// Whether one record's raw bytes close every quoted field they open as CSV requires: the
/// closing quote followed by the delimiter or the end of the line. The csv reader is lenient
/// and takes any later quote as the close ("2,\"坏行\n3,…\n5,\"多行" ends at the quote of
/// line 5), so this is what tells a quote left open from a note with line breaks.
fn quotes_close(raw: &[u8], delimiter: u8) -> bool {
    let mut i = 0;
    while i < raw.len() {
        if raw[i] != b'"' {
            // An unquoted field runs to the delimiter or the end of the record.
            match memchr::memchr2(delimiter, b'\n', &raw[i..]) {
                Some(j) if raw[i + j] == delimiter => i += j + 1,
                _ => return true,
            }
            continue;
        }
        // A quoted field: its closing quote is one not doubled.
        i += 1;
        loop {
            match memchr::memchr(b'"', &raw[i..]) {
                None => return false,
                Some(j) if raw.get(i + j + 1) == Some(&b'"') => i += j + 2,
                Some(j) => {
                    i += j + 1;
                    break;
                }
            }
        }
        match raw.get(i) {
            Some(&b) if b == delimiter => i += 1,
            None | Some(b'\r' | b'\n') => return true,
            Some(_) => return false,
        }
    }
    true
}

/// The fields of one line read alone (a quote left open runs to the line's end).
fn split_line(line: &[u8], encoding: TextEncoding, delimiter: u8) -> Vec<String> {
    let mut fields = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(line);
    let mut record = csv::ByteRecord::new();
    match fields.read_byte_record(&mut record) {
        Ok(true) => record
            .iter()
            .map(|f| {
                encoding
                    .decode_lossy(f)
                    .trim_end_matches(['\r', '\n'])
                    .to_string()
            })
            .collect(),
        _ => vec![encoding.decode_lossy(line).trim_end().to_string()],
    }
}

fn decode_record(
    record: &csv::ByteRecord,
    line: u64,
    width: usize,
    encoding: TextEncoding,
    delimiter: char,
) -> RawRow {
    let mut cells = Vec::with_capacity(record.len());
    let mut problem = None;
    for (i, field) in record.iter().enumerate() {
        match encoding.decode(field) {
            Some(text) => cells.push(text.into_owned()),
            None => {
                problem.get_or_insert_with(|| {
                    format!("invalid {} text in field {}", encoding.name(), i + 1)
                });
                cells.push(encoding.decode_lossy(field).into_owned());
            }
        }
    }
    if problem.is_none() && record.len() != width {
        let spans = cells.iter().any(|c| c.contains('\n'));
        problem = Some(if spans {
            format!(
                "broken quoting: expected {width} fields, found {} (an unclosed quote joins lines)",
                record.len()
            )
        } else {
            format!("expected {width} fields, found {}", record.len())
        });
    }
    // An unclosed quote can swallow whole records and still leave the right number of fields; a
    // line inside a field that splits into as many fields as a record has gives it away. A line
    // of a message that merely holds the delimiter does not ("第二行, 还有逗号" in a quoted
    // field of nine): read so, such messages were rejected whole. With one column, no line can.
    if problem.is_none()
        && width >= 2
        && cells.iter().any(|c| {
            c.lines()
                .skip(1)
                .any(|l| l.split(delimiter).count() == width)
        })
    {
        problem = Some(
            "broken quoting: a quoted field runs over lines that look like records (an unclosed quote?)"
                .to_string(),
        );
    }
    RawRow {
        line,
        keys: None,
        cells,
        problem,
    }
}

fn open_spreadsheet(path: &Path, sheet: Option<&str>) -> Result<Opened> {
    use calamine::{open_workbook_auto, Data, Reader};
    let mut workbook = open_workbook_auto(path)
        .with_context(|| format!("{}: not a readable spreadsheet", path.display()))?;
    let names = workbook.sheet_names();
    let name = match sheet {
        Some(s) => {
            if !names.iter().any(|n| n == s) {
                bail!(
                    "{}: no sheet named '{s}' (sheets: {})",
                    path.display(),
                    names.join(", ")
                );
            }
            s.to_string()
        }
        None => names
            .first()
            .cloned()
            .with_context(|| format!("{}: the workbook has no sheets", path.display()))?,
    };
    let range = workbook
        .worksheet_range(&name)
        .with_context(|| format!("{}: cannot read sheet '{name}'", path.display()))?;
    let first_row = range.start().map_or(0, |(r, _)| r as u64);
    let mut rows = range.rows().enumerate().map(move |(i, row)| {
        let line = first_row + i as u64 + 1;
        let mut problem = None;
        let cells = row
            .iter()
            .enumerate()
            .map(|(col, cell)| match cell {
                Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
                Data::Int(i) => i.to_string(),
                Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => (*f as i64).to_string(),
                Data::Float(f) => f.to_string(),
                Data::Bool(b) => b.to_string(),
                Data::DateTime(dt) => dt
                    .as_datetime()
                    .map_or_else(|| dt.as_f64().to_string(), crate::timefmt::store_text),
                Data::Error(e) => {
                    problem.get_or_insert_with(|| format!("cell error {e} in column {}", col + 1));
                    String::new()
                }
                Data::Empty => String::new(),
            })
            .collect::<Vec<_>>();
        RawRow {
            line,
            keys: None,
            cells,
            problem,
        }
    });
    let headers = match rows.next() {
        Some(h) => h.cells.iter().map(|c| c.trim().to_string()).collect(),
        None => bail!("{}: sheet '{name}' is empty", path.display()),
    };
    let rows = rows
        .filter(|r| r.problem.is_some() || r.cells.iter().any(|c| !c.trim().is_empty()))
        .map(Ok)
        .collect::<Vec<_>>();
    Ok(Opened {
        format: Format::Spreadsheet,
        encoding: None,
        headers: Some(headers),
        rows: Box::new(rows.into_iter()),
    })
}

fn open_jsonl(path: &Path) -> Result<Opened> {
    let encoding = sample_encoding(path)?;
    let mut reader = BufReader::with_capacity(
        1 << 16,
        File::open(path).with_context(|| format!("cannot open {}", path.display()))?,
    );
    let mut line_no = 0u64;
    let mut buf = Vec::new();
    let rows = std::iter::from_fn(move || loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf) {
            Ok(0) => return None,
            Ok(_) => {}
            Err(e) => return Some(Err(anyhow::Error::new(e))),
        }
        line_no += 1;
        let mut bytes = buf.as_slice();
        if line_no == 1 {
            bytes = bytes.strip_prefix(&[0xef, 0xbb, 0xbf]).unwrap_or(bytes);
        }
        if bytes.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        return Some(Ok(parse_json_line(bytes, line_no, encoding)));
    });
    Ok(Opened {
        format: Format::Jsonl,
        encoding: Some(encoding),
        headers: None,
        rows: Box::new(rows),
    })
}

fn parse_json_line(bytes: &[u8], line: u64, encoding: TextEncoding) -> RawRow {
    let bad = |problem: String| RawRow {
        line,
        keys: None,
        cells: vec![encoding.decode_lossy(bytes).trim().to_string()],
        problem: Some(problem),
    };
    let Some(text) = encoding.decode(bytes) else {
        return bad(format!("invalid {} text", encoding.name()));
    };
    match serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&text) {
        Ok(object) => object_row(line, object),
        Err(e) => bad(format!("malformed JSON: {e}")),
    }
}

/// A JSON object as a row: its keys name the columns (JSONL lines, HTTP API items).
pub fn object_row(line: u64, object: serde_json::Map<String, serde_json::Value>) -> RawRow {
    let (keys, cells) = object
        .into_iter()
        .map(|(k, v)| {
            let cell = match v {
                serde_json::Value::String(s) => s,
                serde_json::Value::Null => String::new(),
                other => other.to_string(),
            };
            (k, cell)
        })
        .unzip();
    RawRow {
        line,
        keys: Some(keys),
        cells,
        problem: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_gb18030_and_tolerates_a_bad_byte_in_utf8() {
        let text = "来电编号,热线,来电时间\nA1,心理援助热线,2020-02-01 10:00\n".repeat(20);
        let (gb, _, _) = encoding_rs::GB18030.encode(&text);
        assert_eq!(detect_encoding(&gb), TextEncoding::Gb18030);
        assert_eq!(detect_encoding(text.as_bytes()), TextEncoding::Utf8);
        let mut corrupt = text.into_bytes();
        corrupt[40] = 0xff;
        assert_eq!(detect_encoding(&corrupt), TextEncoding::Utf8);
        assert_eq!(detect_encoding(b"\xef\xbb\xbfa,b\n"), TextEncoding::Utf8Bom);
    }

    #[test]
    fn a_quote_left_open_is_told_from_a_note_over_lines() {
        let closes = |raw: &str| quotes_close(raw.as_bytes(), b',');
        assert!(closes("1,\"一条\n两行\"\n"));
        assert!(closes("1,\"他说\"\"你好\"\"\n再见\",x\r\n"));
        assert!(closes("1,plain,\"\"\n"));
        // Closed by the quote that opens a later record's field, then text after it.
        assert!(!closes("2,\"坏行\n3,第三行\n5,\"多行\n"));
        // Never closed before the end of the file.
        assert!(!closes("2,\"坏行\n3,第三行\n"));
        assert!(!closes("2,\"坏行\"\"\n"));
    }
}
