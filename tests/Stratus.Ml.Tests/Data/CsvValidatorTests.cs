using System.Text;
using Stratus.Ml.Data;

namespace Stratus.Ml.Tests.Data;

public sealed class CsvValidatorTests
{
    private static CsvValidator Validate(string text, int chunk = 4096) => Validate(Encoding.UTF8.GetBytes(text), chunk);

    private static CsvValidator Validate(byte[] bytes, int chunk = 4096)
    {
        var validator = new CsvValidator();
        for (var i = 0; i < bytes.Length; i += chunk) validator.Append(bytes.AsSpan(i, Math.Min(chunk, bytes.Length - i)));
        validator.Complete();
        return validator;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4096)]
    public void Should_accept_quoted_fields_with_delimiters_quotes_newlines_and_crlf_at_any_chunk_size(int chunk)
    {
        var csv = "id,text,\"a \"\"b\"\"\"\r\n1,\"x, y\",\"multi\nline\"\r\n2,\"\u00e9t\u00e9 \u2603\",3\r\n\r\n3,,\"\"\n";
        var v = Validate(csv, chunk);
        Assert.Equal(3, v.DataRows);
        Assert.Equal(["id", "text", "a \"b\""], v.Header);
    }

    [Fact]
    public void Should_name_line_and_column_of_a_ragged_row()
    {
        var ex = Assert.Throws<DataFormatException>(() => Validate("a,b,c\n1,2,3\n4,5\n6,7,8\n"));
        Assert.Equal(3, ex.Line);
        Assert.Contains("line 3", ex.Message);
        Assert.Contains("expected 3 fields", ex.Message);
        Assert.Contains("found 2", ex.Message);
    }

    [Fact]
    public void Should_name_the_column_where_a_row_has_too_many_fields()
    {
        var ex = Assert.Throws<DataFormatException>(() => Validate("a,b\n1,2,3\n"));
        Assert.Equal(2, ex.Line);
        Assert.Equal(3, ex.Column);
    }

    [Fact]
    public void Should_reject_an_unterminated_quote_with_the_line_it_starts_on()
    {
        var ex = Assert.Throws<DataFormatException>(() => Validate("a,b\n1,x\n2,\"never closed\n3,y\n"));
        Assert.Equal(3, ex.Line);
        Assert.Contains("never closed", ex.Message);
    }

    [Fact]
    public void Should_reject_text_after_a_closing_quote() =>
        Assert.Contains("after a closing quote", Assert.Throws<DataFormatException>(() => Validate("a,b\n\"x\"y,2\n")).Message);

    [Fact]
    public void Should_reject_a_quote_inside_an_unquoted_field() =>
        Assert.Equal(2, Assert.Throws<DataFormatException>(() => Validate("a,b\nab\"c,2\n")).Line);

    [Fact]
    public void Should_reject_an_empty_file() =>
        Assert.Contains("empty", Assert.Throws<DataFormatException>(() => Validate("")).Message);

    [Fact]
    public void Should_reject_a_header_without_rows() =>
        Assert.Contains("no data rows", Assert.Throws<DataFormatException>(() => Validate("a,b,c\n")).Message);

    [Fact]
    public void Should_reject_binary_garbage()
    {
        var bytes = new byte[512];
        new Random(7).NextBytes(bytes);
        bytes[10] = 0;
        var ex = Assert.Throws<DataFormatException>(() => Validate(bytes));
        Assert.True(ex.Message.Contains("binary", StringComparison.Ordinal) || ex.Message.Contains("UTF-8", StringComparison.Ordinal), ex.Message);
    }

    [Fact]
    public void Should_reject_latin1_text_as_not_utf8() =>
        Assert.Contains("UTF-8", Assert.Throws<DataFormatException>(() => Validate([.. "a,b\n1,"u8, 0xE9, (byte)'\n'])).Message);

    [Fact]
    public void Should_reject_duplicate_and_empty_header_names_but_not_names_that_differ_in_case()
    {
        Assert.Contains("'a' repeats", Assert.Throws<DataFormatException>(() => Validate("a,A, a \n1,2,3\n")).Message);
        Assert.Equal(["Sc.Var.Maxis", "Sc.Var.maxis"], Validate("Sc.Var.Maxis,Sc.Var.maxis\n1,2\n").Header);
        Assert.Contains("no name", Assert.Throws<DataFormatException>(() => Validate("a,,c\n1,2,3\n")).Message);
    }

    [Fact]
    public void Should_accept_a_last_row_without_a_newline() => Assert.Equal(2, Validate("a,b\n1,2\n3,4").DataRows);

    [Fact]
    public void Should_count_rows_of_random_valid_files_and_find_a_dropped_field_at_any_chunk_size()
    {
        var random = new Random(1234);
        string[] values = ["1", "2.5", "", "plain", "\"quoted, with comma\"", "\"with \"\"quotes\"\"\"", "\"multi\nline\"", "\u00e9t\u00e9"];
        for (var trial = 0; trial < 200; trial++)
        {
            var columns = random.Next(1, 6);
            var rows = random.Next(1, 30);
            var lines = new List<string> { string.Join(',', Enumerable.Range(0, columns).Select(c => $"c{c}")) };
            // A one-column row holding an empty value is a blank line, which CSV readers skip: keep those out.
            string Value()
            {
                var v = values[random.Next(values.Length)];
                return v.Length == 0 && columns == 1 ? "0" : v;
            }
            for (var r = 0; r < rows; r++) lines.Add(string.Join(',', Enumerable.Range(0, columns).Select(_ => Value())));
            var newline = random.Next(2) == 0 ? "\n" : "\r\n";
            var chunk = random.Next(1, 64);
            Assert.Equal(rows, Validate(string.Join(newline, lines) + newline, chunk).DataRows);

            if (columns < 2) continue;
            var broken = random.Next(1, lines.Count);
            lines[broken] = string.Join(',', Enumerable.Range(0, columns - 1).Select(_ => "x"));
            var expectedLine = 1 + lines.Take(broken).Sum(l => 1 + l.Count(ch => ch == '\n'));
            var ex = Assert.Throws<DataFormatException>(() => Validate(string.Join(newline, lines) + newline, chunk));
            Assert.Equal(expectedLine, ex.Line);
        }
    }

    [Fact]
    public void Should_read_back_each_record_with_its_line_as_the_fields_were_written()
    {
        var path = Path.GetTempFileName();
        try
        {
            File.WriteAllText(path, "id,text,\"a \"\"b\"\"\"\r\n1,\"x, y\",\"multi\nline\"\r\n2,\"\u00e9t\u00e9 \u2603\",3\r\n\r\n3,,\"\"\n");
            Assert.Equal([(1L, ["id", "text", "a \"b\""]), (2L, ["1", "x, y", "multi\nline"]), (4L, ["2", "\u00e9t\u00e9 \u2603", "3"]), (6L, ["3", "", ""])],
                CsvValidator.Records(path).Select(r => (r.Line, r.Fields)).ToList(), new RecordComparer());

            // Whatever a field holds, Field writes it and Records reads it back the same.
            var random = new Random(7);
            string[] parts = ["a", ",", "\"", "\n", "\r\n", " ", "\u00e9", "1.5"];
            var rows = Enumerable.Range(0, 50).Select(_ => new[] { "x" + random.Next(), string.Concat(Enumerable.Range(0, random.Next(1, 6)).Select(_ => parts[random.Next(parts.Length)])) }).ToList();
            File.WriteAllText(path, "key,value\n" + string.Concat(rows.Select(r => $"{CsvValidator.Field(r[0])},{CsvValidator.Field(r[1])}\n")));
            Assert.Equal(rows, CsvValidator.Records(path).Skip(1).Select(r => r.Fields).ToList(), new RecordComparer());

            File.WriteAllText(path, "key,value\n1,\"open\n");
            Assert.Equal(2, Assert.Throws<DataFormatException>(() => CsvValidator.Records(path).ToList()).Line);
        }
        finally
        {
            File.Delete(path);
        }
    }

    private sealed class RecordComparer : IEqualityComparer<(long, string[])>, IEqualityComparer<string[]>
    {
        public bool Equals((long, string[]) x, (long, string[]) y) => x.Item1 == y.Item1 && Equals(x.Item2, y.Item2);
        public int GetHashCode((long, string[]) obj) => obj.Item1.GetHashCode();
        public bool Equals(string[]? x, string[]? y) => x!.SequenceEqual(y!);
        public int GetHashCode(string[] obj) => obj.Length;
    }
}
