using DuckDB.NET.Data;

namespace Stratus.Ml.Data;

/// <summary>
/// The columns of a file by the names their owner wrote, and the names DuckDB binds them by. Pandas, R, Spark and
/// Stratus tell <c>Sc.Var.Maxis</c> from <c>Sc.Var.maxis</c>; DuckDB's identifiers ignore case, and it would rename
/// or refuse the second. So every query binds a file's columns by position to names of its own (<see cref="Scan"/>):
/// the first name of each case-insensitive group as it is, the next ones with <c>~2</c>, <c>~3</c> ... added. SQL
/// names never leave the query: files Stratus writes hold the written names (<see cref="DuckDb.CopyToParquet"/>).
/// </summary>
public sealed class SqlColumns
{
    private readonly string[] _sql;
    private readonly Dictionary<string, int> _index;

    private SqlColumns(IReadOnlyList<string> names, string[] sql, Dictionary<string, int> index)
    {
        Names = names;
        _sql = sql;
        _index = index;
    }

    /// <summary>The names as written, in file order.</summary>
    public IReadOnlyList<string> Names { get; }

    /// <summary>The SQL names, in file order.</summary>
    public IReadOnlyList<string> SqlNames => _sql;

    /// <summary>Columns that queries add beside a file's own (read_parquet's row number, the scorer's truth): a file's column of such a name gets another SQL name.</summary>
    public static IReadOnlySet<string> Added { get; } = new HashSet<string>(["file_row_number", "stratus_truth"], StringComparer.OrdinalIgnoreCase);

    /// <summary>The columns named <paramref name="names"/> (in file order).</summary>
    /// <exception cref="DataFormatException">A name is empty or repeats another exactly.</exception>
    public static SqlColumns Of(IReadOnlyList<string> names)
    {
        var index = new Dictionary<string, int>(names.Count, StringComparer.Ordinal);
        var taken = new HashSet<string>(names.Count, StringComparer.OrdinalIgnoreCase);
        var sql = new string[names.Count];
        for (var i = 0; i < names.Count; i++)
        {
            if (names[i].Length == 0) throw new DataFormatException($"column {i + 1} has no name", 0, i + 1);
            if (!index.TryAdd(names[i], i)) throw new DataFormatException($"column {i + 1} '{names[i]}' repeats an earlier column name", 0, i + 1, names[i]);
        }
        // Names as written first, so that a later "a~2" as written is never taken by a renamed "A".
        for (var i = 0; i < names.Count; i++)
        {
            if (!Added.Contains(names[i]) && taken.Add(names[i])) sql[i] = names[i];
        }
        for (var i = 0; i < names.Count; i++)
        {
            if (sql[i] is not null) continue;
            var n = 2;
            while (!taken.Add(sql[i] = $"{names[i]}~{n}")) n++;
        }
        return new SqlColumns(names, sql, index);
    }

    /// <summary>The columns of a Parquet file, as its footer names them.</summary>
    public static SqlColumns OfParquet(string parquet) => Of(ParquetFooter.ColumnNames(parquet));

    /// <summary>The quoted SQL identifier of a column, by its name as written.</summary>
    /// <exception cref="DataFormatException">No column has exactly that name.</exception>
    public string this[string name] => _index.TryGetValue(name, out var i)
        ? DuckDb.Identifier(_sql[i])
        : throw new DataFormatException($"column '{name}' does not exist; the columns are {string.Join(", ", Names)}", 0, 0, name);

    /// <summary>
    /// <paramref name="source"/> (a table function such as <c>read_parquet('f')</c>) with its columns bound to the SQL
    /// names, under <paramref name="alias"/>; columns the function adds after the file's (file_row_number) keep theirs.
    /// </summary>
    public string Scan(string source, string alias = "t") =>
        $"{source} AS {alias}({string.Join(", ", _sql.Select(DuckDb.Identifier))})";

    /// <summary>A Parquet file's columns bound to the SQL names: <c>read_parquet('f') AS t(...)</c>.</summary>
    public string ScanParquet(string parquet, string options = "", string alias = "t") =>
        Scan($"read_parquet({DuckDb.Literal(parquet)}{options})", alias);

    /// <summary>The header of a CSV file as written (trimmed, as DuckDB and the upload check read it), with DuckDB's own name for a column it names itself.</summary>
    public static SqlColumns OfCsvHeader(DuckDBConnection connection, string csv, string dialect)
    {
        using var command = connection.CreateCommand();
        command.CommandText = $"DESCRIBE SELECT * FROM read_csv({DuckDb.Literal(csv)}, header = true{dialect})";
        var engine = new List<string>();
        using (var reader = command.ExecuteReader())
        {
            while (reader.Read()) engine.Add(reader.GetString(0));
        }
        command.CommandText = $"SELECT * FROM read_csv({DuckDb.Literal(csv)}, header = false, all_varchar = true{dialect}) LIMIT 1";
        var names = new List<string>();
        using (var reader = command.ExecuteReader())
        {
            if (reader.Read())
            {
                for (var i = 0; i < reader.FieldCount; i++) names.Add(reader.IsDBNull(i) ? "" : reader.GetString(i).Trim());
            }
        }
        if (names.Count != engine.Count) return Of(engine);
        return Of([.. names.Select((n, i) => n.Length > 0 ? n : engine[i])]);
    }
}
