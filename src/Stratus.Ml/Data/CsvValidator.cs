using System.Buffers;
using System.Text;
using System.Text.Unicode;

namespace Stratus.Ml.Data;

/// <summary>A problem found in an uploaded file, with where it is (1-based line and column; 0 when not known).</summary>
public sealed class DataFormatException(string message, long line = 0, int column = 0, string? columnName = null, Exception? inner = null)
    : Exception(message, inner)
{
    /// <summary>Wraps an engine error whose message is already cleaned for people.</summary>
    public DataFormatException(string message, Exception inner) : this(message, 0, 0, null, inner)
    {
    }

    /// <summary>The 1-based line of the problem, or 0.</summary>
    public long Line { get; } = line;

    /// <summary>The 1-based field number of the problem, or 0.</summary>
    public int Column { get; } = column;

    /// <summary>The header name of that field, when known.</summary>
    public string? ColumnName { get; } = columnName;
}

/// <summary>
/// Checks a CSV stream chunk by chunk as it arrives (RFC 4180: quoted fields, doubled quotes, CRLF or LF), so that
/// an upload is refused with the exact line and field of its first problem before anything is stored. DuckDB does
/// the parsing and type inference afterwards; its own errors cannot say "line 3, field 2" reliably.
/// </summary>
public sealed class CsvValidator
{
    private enum State { FieldStart, Unquoted, Quoted, QuoteInQuoted }

    private readonly byte _delimiter;
    private readonly SearchValues<byte> _unquotedStops;
    private static readonly SearchValues<byte> QuotedStops = SearchValues.Create("\"\n\0"u8);
    private static readonly SearchValues<byte> RowStops = SearchValues.Create("\"\n\r\0"u8);

    private State _state = State.FieldStart;
    private long _line = 1;
    private long _recordStartLine = 1;
    private long _quoteStartLine;
    private int _field;            // 0-based index of the field being read
    private bool _lineHasContent;  // false while the current record is still an empty line
    private int _expectedFields = -1;
    private readonly List<string> _header = [];
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);
    private readonly int _maxColumns = DataLimits.Current.MaxColumns;
    private readonly List<byte> _headerField = [];
    private readonly byte[] _utf8Carry = new byte[4];
    private int _utf8CarryLength;
    private long _bytes;
    private bool _afterCr;

    /// <summary>Creates a validator for the given single-byte delimiter (default ',').</summary>
    public CsvValidator(char delimiter = ',')
    {
        if (delimiter is '"' or '\n' or '\r' or '\0' or > (char)127)
            throw new ArgumentException("The delimiter must be a single ASCII character other than a quote or line break.", nameof(delimiter));
        _delimiter = (byte)delimiter;
        _unquotedStops = SearchValues.Create([_delimiter, (byte)'"', (byte)'\n', (byte)'\r', 0]);
    }

    /// <summary>A value as one CSV field (RFC 4180): quoted, its quotes doubled, when it holds a comma, a quote or a line break.</summary>
    public static string Field(string value) =>
        value.AsSpan().IndexOfAny(",\"\n\r") >= 0 ? "\"" + value.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : value;

    /// <summary>Data rows seen so far (records after the header).</summary>
    public long DataRows { get; private set; }

    /// <summary>The header's column names, once the first record is complete.</summary>
    public IReadOnlyList<string> Header => _header;

    /// <summary>Checks the next chunk of the file.</summary>
    /// <exception cref="DataFormatException">The chunk shows the file is not valid CSV.</exception>
    public void Append(ReadOnlySpan<byte> chunk)
    {
        CheckUtf8(chunk);
        _bytes += chunk.Length;
        var i = 0;
        if (_afterCr && chunk.Length > 0)
        {
            // The LF of a CRLF that was split across two chunks.
            if (chunk[0] == '\n') i = 1;
            _afterCr = false;
        }
        while (i < chunk.Length)
        {
            if (_state == State.Quoted)
            {
                var rest = chunk[i..];
                var stop = rest.IndexOfAny(QuotedStops);
                if (_expectedFields < 0) _headerField.AddRange(stop < 0 ? rest : rest[..stop]);
                if (stop < 0) return;
                i += stop;
                var q = chunk[i++];
                if (q == 0) ThrowBinary();
                if (q == '"')
                {
                    _state = State.QuoteInQuoted;
                }
                else
                {
                    _line++;
                    if (_expectedFields < 0) _headerField.Add(q);
                }
                continue;
            }
            if (_state == State.QuoteInQuoted)
            {
                var q = chunk[i];
                if (q == '"')
                {
                    // A doubled quote stands for one quote inside the field.
                    if (_expectedFields < 0) _headerField.Add(q);
                    _state = State.Quoted;
                    i++;
                    continue;
                }
                if (q != _delimiter && q != '\n' && q != '\r')
                    throw Error("text after a closing quote; a quote inside a quoted field must be doubled (\"\")", _line, _field + 1);
                _state = State.Unquoted; // the separator is handled below
            }

            if (_expectedFields >= 0)
            {
                // Data rows: jump from quote or line end to the next, counting delimiters in between (vectorized).
                var rest = chunk[i..];
                var stop = rest.IndexOfAny(RowStops);
                var span = stop < 0 ? rest : rest[..stop];
                if (span.Length > 0)
                {
                    _lineHasContent = true;
                    var delimiters = span.Count(_delimiter);
                    if (delimiters > 0)
                    {
                        _field += delimiters;
                        if (_field >= _expectedFields)
                            throw Error($"expected {_expectedFields} fields as in the header, found more", _recordStartLine, _expectedFields + 1);
                    }
                    _state = span[^1] == _delimiter ? State.FieldStart : State.Unquoted;
                }
                if (stop < 0) return;
                i += stop;
                var c = chunk[i++];
                if (c == 0) ThrowBinary();
                if (c == '"')
                {
                    if (_state != State.FieldStart)
                        throw Error("a quote inside an unquoted field; quote the whole field and double any quotes inside it", _line, _field + 1);
                    _state = State.Quoted;
                    _quoteStartLine = _line;
                    _lineHasContent = true;
                    continue;
                }
                if (c == '\r')
                {
                    if (i == chunk.Length) _afterCr = true;
                    else if (chunk[i] == '\n') i++;
                }
                EndRecord();
                continue;
            }

            // The header line: field by field, collecting the names.
            var unquoted = chunk[i..];
            var at = unquoted.IndexOfAny(_unquotedStops);
            var run = at < 0 ? unquoted : unquoted[..at];
            if (run.Length > 0)
            {
                _lineHasContent = true;
                _headerField.AddRange(run);
                _state = State.Unquoted;
            }
            if (at < 0) return;
            i += at;
            var b = chunk[i++];
            if (b == 0) ThrowBinary();
            if (b == _delimiter)
            {
                _lineHasContent = true;
                AddHeaderName();
                _field++;
                _state = State.FieldStart;
            }
            else if (b == '"')
            {
                if (_state != State.FieldStart)
                    throw Error("a quote inside an unquoted field; quote the whole field and double any quotes inside it", _line, _field + 1);
                _state = State.Quoted;
                _quoteStartLine = _line;
                _lineHasContent = true;
            }
            else
            {
                if (b == '\r')
                {
                    if (i == chunk.Length) _afterCr = true;
                    else if (chunk[i] == '\n') i++;
                }
                EndRecord();
            }
        }
    }

    /// <summary>Checks a whole local file as an upload is checked; returns its header.</summary>
    /// <exception cref="DataFormatException">The first problem, with its line and field.</exception>
    public static IReadOnlyList<string> Check(string path, char delimiter = ',')
    {
        var validator = new CsvValidator(delimiter);
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
        var buffer = new byte[1 << 16];
        int read;
        while ((read = stream.Read(buffer)) > 0) validator.Append(buffer.AsSpan(0, read));
        return validator.Complete();
    }

    /// <summary>
    /// The records of a small CSV file, each with the line it starts on, after <see cref="Check"/> has passed it
    /// (quoted fields may hold the delimiter, doubled quotes and line breaks; blank lines hold no record). For the
    /// command line's own small files; datasets and batch scoring read CSV with DuckDB.
    /// </summary>
    /// <exception cref="DataFormatException">The file's first problem, with its line and field.</exception>
    public static IEnumerable<(long Line, string[] Fields)> Records(string path, char delimiter = ',')
    {
        Check(path, delimiter);
        return Read(path, delimiter);

        static IEnumerable<(long, string[])> Read(string path, char delimiter)
        {
            using var reader = new StreamReader(path, Encoding.UTF8);
            var fields = new List<string>();
            var field = new StringBuilder();
            var (line, start, quoted, content) = (1L, 1L, false, false);
            for (var c = reader.Read(); c >= 0; c = reader.Read())
            {
                if (c == '\n') line++;
                if (quoted)
                {
                    if (c != '"') field.Append((char)c);
                    else if (reader.Peek() == '"') field.Append((char)reader.Read());
                    else quoted = false;
                    continue;
                }
                if (c == '\r' && reader.Peek() == '\n') continue;
                if (c == '\n')
                {
                    if (content) yield return (start, Take(fields, field));
                    (start, content) = (line, false);
                    continue;
                }
                content = true;
                if (c == '"') quoted = true;
                else if (c != delimiter) field.Append((char)c);
                else
                {
                    fields.Add(field.ToString());
                    field.Clear();
                }
            }
            if (content) yield return (start, Take(fields, field));
        }

        // The record's fields, the one being read last; both emptied for the next record.
        static string[] Take(List<string> fields, StringBuilder field)
        {
            fields.Add(field.ToString());
            string[] record = [.. fields];
            fields.Clear();
            field.Clear();
            return record;
        }
    }

    /// <summary>Checks the end of the file and returns the header.</summary>
    /// <exception cref="DataFormatException">The file ended inside a quoted field, is empty, or has no data rows.</exception>
    public IReadOnlyList<string> Complete()
    {
        if (_utf8CarryLength > 0) throw Error("the file is not UTF-8 text: it ends inside a multi-byte character", _line);
        if (_state is State.Quoted)
            throw Error($"a quoted field that starts on line {_quoteStartLine} is never closed", _quoteStartLine);
        if (_lineHasContent || _state == State.QuoteInQuoted) EndRecord();
        if (_bytes == 0 || _expectedFields < 0) throw new DataFormatException("the file is empty: expected a header line and at least one data row");
        if (DataRows == 0) throw new DataFormatException("the file has a header but no data rows", 2);
        return _header;
    }

    private void EndRecord()
    {
        if (!_lineHasContent)
        {
            _line++; // blank lines hold no record; skip them
            _recordStartLine = _line;
            _state = State.FieldStart;
            return;
        }
        if (_expectedFields < 0)
        {
            AddHeaderName();
            _expectedFields = _header.Count;
        }
        else
        {
            var found = _field + 1;
            if (found != _expectedFields)
                throw Error($"expected {_expectedFields} fields as in the header, found {found}", _recordStartLine, found + 1);
            DataRows++;
        }
        _field = 0;
        _line++;
        _recordStartLine = _line;
        _lineHasContent = false;
        _state = State.FieldStart;
    }

    private void AddHeaderName()
    {
        var name = Encoding.UTF8.GetString(CollectionsMarshalSpan(_headerField)).Trim();
        _headerField.Clear();
        var column = _header.Count + 1;
        // Refused while the header streams in: nothing is held for a file wider than a dataset may be.
        if (column > _maxColumns) throw Error($"the file has more than {_maxColumns:N0} columns, the most a dataset may have (limit MaxColumns)", 1, column);
        if (name.Length == 0) throw Error($"header column {column} has no name", 1, column);
        if (!_names.Add(name)) throw Error($"header column {column} '{name}' repeats an earlier column name", 1, column);
        _header.Add(name);
    }

    private static ReadOnlySpan<byte> CollectionsMarshalSpan(List<byte> list) =>
        System.Runtime.InteropServices.CollectionsMarshal.AsSpan(list);

    private void CheckUtf8(ReadOnlySpan<byte> chunk)
    {
        if (_utf8CarryLength > 0)
        {
            // Complete the character split across chunks, byte by byte.
            Span<byte> joined = stackalloc byte[8];
            _utf8Carry.AsSpan(0, _utf8CarryLength).CopyTo(joined);
            var take = Math.Min(4 - _utf8CarryLength, chunk.Length);
            chunk[..take].CopyTo(joined[_utf8CarryLength..]);
            var status = Rune.DecodeFromUtf8(joined[..(_utf8CarryLength + take)], out _, out var consumed);
            if (status == OperationStatus.NeedMoreData && take == chunk.Length)
            {
                chunk.CopyTo(_utf8Carry.AsSpan(_utf8CarryLength));
                _utf8CarryLength += chunk.Length;
                return;
            }
            if (status != OperationStatus.Done) ThrowNotUtf8();
            chunk = chunk[(consumed - _utf8CarryLength)..];
            _utf8CarryLength = 0;
        }
        // Leave an incomplete trailing character for the next chunk.
        var end = chunk.Length;
        for (var back = 1; back <= Math.Min(3, chunk.Length); back++)
        {
            var b = chunk[^back];
            if ((b & 0xC0) == 0x80) continue; // continuation byte
            var need = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1;
            if (need > back) end = chunk.Length - back;
            break;
        }
        if (!Utf8.IsValid(chunk[..end])) ThrowNotUtf8();
        chunk[end..].CopyTo(_utf8Carry);
        _utf8CarryLength = chunk.Length - end;
    }

    private void ThrowNotUtf8() =>
        throw Error("the file is not UTF-8 text (binary data or another encoding); save it as UTF-8 CSV", _line);

    private void ThrowBinary() =>
        throw Error("the file contains a NUL byte: it is binary data, not CSV text", _line);

    private DataFormatException Error(string message, long line, int column = 0)
    {
        string? columnName = column > 0 && column <= _header.Count && line > 1 ? _header[column - 1] : null;
        var where = column > 0
            ? $"line {line}, column {column}{(columnName is null ? "" : $" ('{columnName}')")}"
            : $"line {line}";
        return new DataFormatException($"{where}: {message}", line, column, columnName);
    }
}
