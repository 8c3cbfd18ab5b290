using System.Buffers.Binary;
using System.Text;

namespace Stratus.Ml.Data;

/// <summary>
/// Reads and renames the top-level column names of a Parquet file in its footer (Thrift compact protocol). DuckDB
/// folds identifiers case-insensitively, so it reads <c>Sc.Var.Maxis</c> and <c>Sc.Var.maxis</c> as one name and
/// writes the second as <c>Sc.Var.maxis_1</c>; the names as written are put back into every Parquet file Stratus
/// writes, so that its files, downloads and the readers of pandas, R and Spark see them as the user did. Only names
/// change: the data pages, offsets and statistics stay byte for byte.
/// </summary>
public static class ParquetFooter
{
    private static ReadOnlySpan<byte> Magic => "PAR1"u8;

    /// <summary>The top-level column names, in order.</summary>
    /// <exception cref="DataFormatException">The file is not a readable Parquet file.</exception>
    public static IReadOnlyList<string> ColumnNames(string path)
    {
        using var file = File.OpenRead(path);
        var (footer, _) = ReadFooter(file);
        return [.. Parse(footer).Top.Select(t => t.Name)];
    }

    /// <summary>
    /// Gives the top-level columns <paramref name="names"/>, in order, where they differ; the file must not be published
    /// yet (it is rewritten in place).
    /// </summary>
    /// <exception cref="DataFormatException">The file is not a readable Parquet file, or has another number of columns.</exception>
    public static void RenameColumns(string path, IReadOnlyList<string> names)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.ReadWrite);
        var (footer, start) = ReadFooter(file);
        var schema = Parse(footer);
        if (schema.Top.Count != names.Count)
            throw new DataFormatException($"the Parquet file has {schema.Top.Count} columns, not {names.Count}");
        var renamed = new Dictionary<string, string>(StringComparer.Ordinal);
        var edits = new List<(int Start, int End, string Name)>();
        for (var i = 0; i < names.Count; i++)
        {
            var (old, at, end) = schema.Top[i];
            if (old == names[i]) continue;
            renamed[old] = names[i];
            edits.Add((at, end, names[i]));
        }
        if (edits.Count == 0) return;
        // Each column chunk names its column again (path_in_schema); its first element is the top-level name.
        edits.AddRange(schema.Paths.Where(p => renamed.ContainsKey(p.Name)).Select(p => (p.Start, p.End, renamed[p.Name])));
        edits.Sort((a, b) => a.Start.CompareTo(b.Start));

        var output = new MemoryStream(footer.Length + 64);
        var copied = 0;
        foreach (var (at, end, name) in edits)
        {
            output.Write(footer, copied, at - copied);
            var bytes = Encoding.UTF8.GetBytes(name);
            WriteVarint(output, (ulong)bytes.Length);
            output.Write(bytes);
            copied = end;
        }
        output.Write(footer, copied, footer.Length - copied);
        file.SetLength(start);
        file.Seek(start, SeekOrigin.Begin);
        output.WriteTo(file);
        Span<byte> tail = stackalloc byte[8];
        BinaryPrimitives.WriteInt32LittleEndian(tail, checked((int)output.Length));
        Magic.CopyTo(tail[4..]);
        file.Write(tail);
    }

    private static (byte[] Footer, long Start) ReadFooter(FileStream file)
    {
        Span<byte> tail = stackalloc byte[8];
        if (file.Length < 12) throw NotParquet();
        file.Seek(-8, SeekOrigin.End);
        file.ReadExactly(tail);
        if (!tail[4..].SequenceEqual(Magic)) throw NotParquet();
        var length = BinaryPrimitives.ReadInt32LittleEndian(tail);
        if (length <= 0 || length > file.Length - 12) throw NotParquet();
        var start = file.Length - 8 - length;
        var footer = new byte[length];
        file.Seek(start, SeekOrigin.Begin);
        file.ReadExactly(footer);
        return (footer, start);
    }

    private static DataFormatException NotParquet(string? why = null) =>
        new($"the file is not a readable Parquet file{(why is null ? "" : $" ({why})")}");

    private sealed record Schema(List<(string Name, int Start, int End)> Top, List<(string Name, int Start, int End)> Paths);

    private static Schema Parse(byte[] footer)
    {
        var reader = new CompactReader(footer);
        var elements = new List<(string Name, int Start, int End, int Children)>();
        var paths = new List<(string Name, int Start, int End)>();
        try
        {
            // FileMetaData: 2 = schema (list<SchemaElement>), 4 = row_groups (list<RowGroup>).
            reader.Struct((id, type) =>
            {
                if (id == 2 && type == CompactReader.ListType) reader.List(_ => elements.Add(SchemaElement(reader)));
                else if (id == 4 && type == CompactReader.ListType) reader.List(_ => RowGroup(reader, paths));
                else return false;
                return true;
            });
        }
        catch (Exception ex) when (ex is IndexOutOfRangeException or ArgumentOutOfRangeException or InvalidDataException or OverflowException or DecoderFallbackException)
        {
            throw NotParquet("its footer cannot be read");
        }
        if (elements.Count == 0) throw NotParquet("it has no schema");
        // The schema is a tree in pre-order: the root's children are the columns, each followed by its own subtree.
        var top = new List<(string, int, int)>();
        var next = 1;
        int Subtree(int at, int depth)
        {
            if (at >= elements.Count || depth > 64) throw NotParquet("its schema is malformed");
            var after = at + 1;
            for (var c = 0; c < elements[at].Children; c++) after = Subtree(after, depth + 1);
            return after;
        }
        for (var c = 0; c < elements[0].Children; c++)
        {
            if (next >= elements.Count) throw NotParquet("its schema is malformed");
            top.Add((elements[next].Name, elements[next].Start, elements[next].End));
            next = Subtree(next, 1);
        }
        return new Schema(top, paths);
    }

    /// <summary>SchemaElement: 4 = name, 5 = num_children.</summary>
    private static (string, int, int, int) SchemaElement(CompactReader reader)
    {
        (string Name, int Start, int End, int Children) element = ("", 0, 0, 0);
        reader.Struct((id, type) =>
        {
            if (id == 4 && type == CompactReader.Binary)
            {
                var name = reader.String(out var start, out var end);
                element = (name, start, end, element.Children);
            }
            else if (id == 5 && type == CompactReader.I32) element.Children = checked((int)reader.ZigZag());
            else return false;
            return true;
        });
        if (element.Children < 0) throw new InvalidDataException("negative num_children");
        return element;
    }

    /// <summary>RowGroup: 1 = columns (list&lt;ColumnChunk&gt;); ColumnChunk: 3 = meta_data; ColumnMetaData: 3 = path_in_schema.</summary>
    private static void RowGroup(CompactReader reader, List<(string, int, int)> paths) => reader.Struct((id, type) =>
    {
        if (id != 1 || type != CompactReader.ListType) return false;
        reader.List(_ => reader.Struct((chunkField, chunkType) =>
        {
            if (chunkField != 3 || chunkType != CompactReader.StructType) return false;
            reader.Struct((metaField, metaType) =>
            {
                if (metaField != 3 || metaType != CompactReader.ListType) return false;
                reader.List(i =>
                {
                    var name = reader.String(out var start, out var end);
                    if (i == 0) paths.Add((name, start, end));
                });
                return true;
            });
            return true;
        }));
        return true;
    });

    private static void WriteVarint(Stream output, ulong value)
    {
        while (value >= 0x80)
        {
            output.WriteByte((byte)(value | 0x80));
            value >>= 7;
        }
        output.WriteByte((byte)value);
    }

    /// <summary>Just enough of Thrift's compact protocol to walk a struct and skip what it does not need.</summary>
    private sealed class CompactReader(byte[] data)
    {
        public const int BoolTrue = 1, BoolFalse = 2, I8 = 3, I16 = 4, I32 = 5, I64 = 6, Double = 7, Binary = 8, ListType = 9, Set = 10, Map = 11, StructType = 12;
        private const int MaxDepth = 64;
        private int _pos;
        private int _depth;

        public ulong Varint()
        {
            ulong value = 0;
            for (var shift = 0; shift < 64; shift += 7)
            {
                var b = data[_pos++];
                value |= (ulong)(b & 0x7F) << shift;
                if ((b & 0x80) == 0) return value;
            }
            throw new InvalidDataException("varint too long");
        }

        public long ZigZag()
        {
            var v = Varint();
            return (long)(v >> 1) ^ -(long)(v & 1);
        }

        public string String(out int start, out int end)
        {
            start = _pos;
            var length = Bytes();
            var text = new UTF8Encoding(false, true).GetString(data, _pos - length, length);
            end = _pos;
            return text;
        }

        /// <summary>Passes over a binary value (statistics hold raw bytes, not text), returning its length.</summary>
        private int Bytes()
        {
            var length = checked((int)Varint());
            if (length < 0 || length > data.Length - _pos) throw new InvalidDataException("binary past the footer");
            _pos += length;
            return length;
        }

        /// <summary>Reads a struct's fields; <paramref name="field"/> reads the ones it knows (true) and the rest are skipped.</summary>
        public void Struct(Func<int, int, bool> field)
        {
            if (++_depth > MaxDepth) throw new InvalidDataException("nested too deep");
            var last = 0;
            while (true)
            {
                var header = data[_pos++];
                if (header == 0) break;
                var type = header & 0x0F;
                var delta = header >> 4;
                var id = delta == 0 ? checked((int)ZigZag()) : last + delta;
                last = id;
                if (!field(id, type)) Skip(type, inCollection: false);
            }
            _depth--;
        }

        public void List(Action<int> element)
        {
            var header = data[_pos++];
            var size = (long)(header >> 4);
            if (size == 15) size = (long)Varint();
            if (size < 0 || size > data.Length - _pos) throw new InvalidDataException("list longer than the footer");
            for (var i = 0; i < size; i++) element(i);
        }

        private void Skip(int type, bool inCollection)
        {
            switch (type)
            {
                case BoolTrue or BoolFalse:
                    if (inCollection) _pos++;
                    break;
                case I8: _pos++; break;
                case I16 or I32 or I64: Varint(); break;
                case Double: _pos += 8; break;
                case Binary: Bytes(); break;
                case ListType or Set:
                    {
                        var header = data[_pos++];
                        var size = (long)(header >> 4);
                        if (size == 15) size = (long)Varint();
                        if (size < 0 || size > data.Length - _pos) throw new InvalidDataException("list longer than the footer");
                        for (var i = 0; i < size; i++) Skip(header & 0x0F, inCollection: true);
                        break;
                    }
                case Map:
                    {
                        var size = (long)Varint();
                        if (size == 0) break;
                        if (size < 0 || size > data.Length - _pos) throw new InvalidDataException("map longer than the footer");
                        var kinds = data[_pos++];
                        for (var i = 0; i < size; i++)
                        {
                            Skip(kinds >> 4, inCollection: true);
                            Skip(kinds & 0x0F, inCollection: true);
                        }
                        break;
                    }
                case StructType:
                    Struct((_, _) => false);
                    break;
                default:
                    throw new InvalidDataException($"unknown type {type}");
            }
            if (_pos > data.Length) throw new InvalidDataException("value past the footer");
        }
    }
}
