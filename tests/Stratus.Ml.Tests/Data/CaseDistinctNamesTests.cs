using System.Globalization;
using System.Text;
using Stratus.Ml.Data;

namespace Stratus.Ml.Tests.Data;

/// <summary>
/// Names that differ only in case (mlbench's Sc.Var.Maxis and Sc.Var.maxis) are two columns to pandas, R, Spark and
/// Stratus, one to DuckDB's identifiers: every file Stratus writes keeps them as written, every query binds them apart.
/// </summary>
public sealed class CaseDistinctNamesTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("stratus-case-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private List<string[]> Query(string sql)
    {
        using var connection = DuckDb.Open(_dir);
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        using var reader = command.ExecuteReader();
        var rows = new List<string[]>();
        while (reader.Read())
            rows.Add([.. Enumerable.Range(0, reader.FieldCount).Select(i => reader.IsDBNull(i) ? "" : Convert.ToString(reader.GetValue(i), CultureInfo.InvariantCulture)!)]);
        return rows;
    }

    private List<string> SchemaNames(string parquet) =>
        [.. Query($"SELECT name FROM parquet_schema({DuckDb.Literal(parquet)})").Skip(1).Select(r => r[0])];

    [Fact]
    public void Should_rename_the_columns_of_a_parquet_file_in_its_footer_leaving_the_data_as_it_was()
    {
        // Many row groups (each names its columns again), text statistics (raw bytes in the footer), a nested column.
        var parquet = Path.Combine(_dir, "wide.parquet");
        Query($"""
            COPY (SELECT range AS "a", range * 2 AS "A", 'v' || range AS "b", {"{"}'x': range, 'y': -range{"}"} AS "s", [range, 1] AS "l"
                  FROM range(5000)) TO {DuckDb.Literal(parquet)} (FORMAT parquet, ROW_GROUP_SIZE 1000)
            """);
        Assert.Equal(["a", "A_1", "b", "s", "x", "y", "l", "list", "element"], SchemaNames(parquet)); // DuckDB's own names
        var before = Query($"SELECT * FROM read_parquet({DuckDb.Literal(parquet)}) ORDER BY 1");

        ParquetFooter.RenameColumns(parquet, ["a", "A", "Sc.Var.maxis \"quoted\", ünïcode", "s", "l"]);

        Assert.Equal(["a", "A", "Sc.Var.maxis \"quoted\", ünïcode", "s", "x", "y", "l", "list", "element"], SchemaNames(parquet));
        Assert.Equal(["a", "A", "Sc.Var.maxis \"quoted\", ünïcode", "s", "l"], ParquetFooter.ColumnNames(parquet));
        Assert.Equal(before, Query($"SELECT * FROM read_parquet({DuckDb.Literal(parquet)}) ORDER BY 1"));
        var paths = Query($"SELECT DISTINCT path_in_schema FROM parquet_metadata({DuckDb.Literal(parquet)}) ORDER BY 1").Select(r => r[0]).ToList();
        Assert.Contains("A", paths);
        Assert.DoesNotContain("A_1", paths);
        Assert.True(3 <= Query($"SELECT DISTINCT row_group_id FROM parquet_metadata({DuckDb.Literal(parquet)})").Count, "row groups");
        Assert.Throws<DataFormatException>(() => ParquetFooter.RenameColumns(parquet, ["a", "A"]));
    }

    [Fact]
    public void Should_refuse_a_damaged_footer_with_a_data_error_and_nothing_else()
    {
        var parquet = Path.Combine(_dir, "good.parquet");
        Query($"COPY (SELECT range AS a, 'x' || range AS b FROM range(100)) TO {DuckDb.Literal(parquet)} (FORMAT parquet)");
        var good = File.ReadAllBytes(parquet);
        var length = BitConverter.ToInt32(good, good.Length - 8);
        var random = new Random(7);
        var damaged = Path.Combine(_dir, "damaged.parquet");
        for (var trial = 0; trial < 2000; trial++)
        {
            var bytes = (byte[])good.Clone();
            // Damage inside the footer only: a truncated or flipped footer must never escape as another exception.
            for (var k = 0; k < 1 + random.Next(4); k++) bytes[bytes.Length - 8 - 1 - random.Next(length)] = (byte)random.Next(256);
            File.WriteAllBytes(damaged, bytes);
            try
            {
                ParquetFooter.ColumnNames(damaged);
            }
            catch (DataFormatException)
            {
            }
        }
        File.WriteAllBytes(damaged, [.. good.AsSpan(0, good.Length - 8).ToArray(), .. BitConverter.GetBytes(int.MaxValue), .. "PAR1"u8.ToArray()]);
        Assert.Throws<DataFormatException>(() => ParquetFooter.ColumnNames(damaged));
        File.WriteAllText(damaged, "a,b\n1,2\n");
        Assert.Throws<DataFormatException>(() => ParquetFooter.ColumnNames(damaged));
    }

    [Fact]
    public void Should_give_each_name_its_own_sql_name_and_refuse_only_exact_repeats()
    {
        var columns = SqlColumns.Of(["a", "A", "a~2", "B"]);
        var sql = columns.Names.Select(n => columns[n]).ToList();
        Assert.Equal(["\"a\"", "\"A~3\"", "\"a~2\"", "\"B\""], sql);
        Assert.Equal(["a", "A~3", "a~2", "B"], columns.SqlNames);
        Assert.Equal(["x", "y", "file_row_number~2"], SqlColumns.Of(["x", "y", "file_row_number"]).SqlNames);
        Assert.Contains("'A' repeats", Assert.Throws<DataFormatException>(() => SqlColumns.Of(["A", "b", "A"])).Message);
        Assert.Contains("'z' does not exist", Assert.Throws<DataFormatException>(() => columns["z"]).Message);
    }

    [Fact]
    public void Should_ingest_csv_and_parquet_with_names_differing_in_case_and_keep_them_as_written()
    {
        var csv = new StringBuilder("Sc.Var.Maxis,Sc.Var.maxis,kind,Kind\n");
        for (var i = 0; i < 50; i++) csv.Append(CultureInfo.InvariantCulture, $"{i},{-i},{(i % 2 == 0 ? "even" : "odd")},{i % 5}\n");
        var (parquet, profile) = StoredCsv.Ingest(_dir, csv.ToString());
        Assert.Equal(["Sc.Var.Maxis", "Sc.Var.maxis", "kind", "Kind"], profile.Select(p => p.Name));
        Assert.Equal([(0.0, 49.0), (-49.0, 0.0)], profile.Take(2).Select(p => (p.Min!.Value, p.Max!.Value)));
        Assert.Equal(("VARCHAR", "BIGINT"), (profile[2].Type, profile[3].Type));
        Assert.Equal(["Sc.Var.Maxis", "Sc.Var.maxis", "kind", "Kind"], SchemaNames(parquet));

        // The stored file uploaded again as Parquet (as retraining does with its splits) keeps them too.
        var (result, again) = DatasetIngestor.Ingest(parquet, SourceFormat.Parquet, Path.Combine(_dir, "again.parquet"), _dir);
        Assert.Equal(["Sc.Var.Maxis", "Sc.Var.maxis", "kind", "Kind"], result.Columns.Select(c => c.Name));
        Assert.Equal(profile.Select(p => (p.Name, p.Min, p.Max, p.Distinct)), again.Select(p => (p.Name, p.Min, p.Max, p.Distinct)));
    }

    [Fact]
    public void Should_add_feedback_to_retraining_data_by_exact_names()
    {
        var csv = new StringBuilder("Amount,amount,label\n");
        for (var i = 0; i < 200; i++) csv.Append(CultureInfo.InvariantCulture, $"{i},{i + 0.5},{i % 2}\n");
        var (parquet, _) = StoredCsv.Ingest(_dir, csv.ToString());
        var feedback = Path.Combine(_dir, "feedback.jsonl");
        File.WriteAllText(feedback, """
            {"Amount": 7000, "amount": 1000.25, "label": 1}
            {"amount": 2000.5, "label": 0.0}

            """);
        var (train, holdout) = (Path.Combine(_dir, "train.parquet"), Path.Combine(_dir, "holdout.parquet"));

        var split = RetrainingData.Prepare(parquet, feedback, train, holdout, 20, seed: 42, _dir);

        Assert.Equal(2, split.FeedbackRows);
        Assert.Equal(["Amount", "amount", "label"], SchemaNames(train));
        Assert.Equal(["Amount", "amount", "label"], SchemaNames(holdout));
        var both = $"(SELECT * FROM read_parquet([{DuckDb.Literal(train)}, {DuckDb.Literal(holdout)}]) AS t(upper, lower, label))";
        Assert.Equal([["7000", "1000.25", "1"], ["", "2000.5", "0"]], Query($"SELECT upper, lower, label FROM {both} WHERE lower >= 1000 ORDER BY lower"));
    }
}
