using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using Stratus.Ml.Data;

namespace Stratus.Ml.Training;

/// <summary>How a source column enters the model.</summary>
public enum FeatureKind
{
    /// <summary>A number; missing values are replaced by the mean and flagged.</summary>
    Numeric,

    /// <summary>A category with few values: one-hot encoded.</summary>
    Categorical,

    /// <summary>A category with many values: hashed one-hot encoded.</summary>
    HighCardinality,

    /// <summary>Free text: word and character n-grams.</summary>
    Text,
}

/// <summary>A model input column and how it is featurized.</summary>
public sealed record FeatureColumn(string Name, string SourceColumn, string SourceType, FeatureKind Kind)
{
    /// <summary>
    /// The column's name in the model's pipeline, where Label, Features, Score and f_0 are the pipeline's own: a data
    /// set's column named Label trained on the label itself. <c>in:LENGTH:NAME</c> (the length of the source column's
    /// name) is never one of those, and tells a date part <c>when_year</c> of <c>when</c> from a column <c>when_year</c>.
    /// </summary>
    public string Column => $"in:{SourceColumn.Length.ToString(CultureInfo.InvariantCulture)}:{Name}";
}

/// <summary>
/// Turns a Parquet dataset into an ML.NET <see cref="IDataView"/>: DuckDB derives the columns the model reads
/// (dates split into parts, booleans as numbers, the label encoded for the task) and writes them to a CSV file
/// that ML.NET's text loader reads; training caches it in memory, where LightGBM needs its rows anyway.
/// </summary>
public static class TrainingData
{
    /// <summary>The column the label is written to.</summary>
    public const string LabelColumn = "Label";

    /// <summary>Categories with at most this many values are one-hot encoded; more are hashed.</summary>
    public const int OneHotLimit = 64;

    /// <summary>Chooses features from the dataset's profile: every column but the target (and those named in <paramref name="exclude"/>).</summary>
    /// <exception cref="DataFormatException">The target is missing or no usable feature remains.</exception>
    public static IReadOnlyList<FeatureColumn> PlanFeatures(IReadOnlyList<ColumnProfile> profile, string target, IReadOnlyCollection<string>? exclude = null)
    {
        if (!profile.Any(c => c.Name == target))
            throw new DataFormatException($"target column '{target}' does not exist; the columns are {string.Join(", ", profile.Select(c => c.Name))}");
        var features = new List<FeatureColumn>();
        foreach (var c in profile)
        {
            if (c.Name == target || exclude?.Contains(c.Name) == true) continue;
            if (c.Count == 0 || c.Distinct < 2) continue; // empty or constant: carries no signal
            if (c.Type == "VARCHAR")
            {
                var kind = LooksLikeText(c) ? FeatureKind.Text : c.Distinct <= OneHotLimit ? FeatureKind.Categorical : FeatureKind.HighCardinality;
                features.Add(new FeatureColumn(c.Name, c.Name, c.Type, kind));
            }
            else
            {
                features.AddRange(FeaturesFor(c.Name, c.Type));
            }
        }
        if (features.Count == 0) throw new DataFormatException($"no usable feature: every column but '{target}' is constant, empty or of an unsupported type");
        return features;
    }

    /// <summary>
    /// The numeric model columns a source column becomes: itself for numbers and booleans, its parts for dates, none
    /// for unsupported types. Text columns map to one text column (its encoding is part of the trained pipeline).
    /// </summary>
    public static IEnumerable<FeatureColumn> FeaturesFor(string name, string type)
    {
        if (DuckDb.IsNumeric(type) || type == "BOOLEAN") return [new FeatureColumn(name, name, type, FeatureKind.Numeric)];
        if (type is "DATE" or "TIMESTAMP" or "TIMESTAMP WITH TIME ZONE")
            return DateParts(type).Select(part => new FeatureColumn($"{name}_{part}", name, type, FeatureKind.Numeric));
        if (type == "VARCHAR") return [new FeatureColumn(name, name, type, FeatureKind.Categorical)];
        return [];
    }

    /// <summary>Writes the model's input columns and the encoded label to a CSV file and returns a loader over it.</summary>
    public static IDataView Load(MLContext ml, string parquet, IReadOnlyList<FeatureColumn> features, ColumnProfile target, MlTask task, string csvPath, string tempDirectory)
    {
        var sql = SqlColumns.OfParquet(parquet);
        // The loader reads the columns by position, under the model's names: the header's names are the query's own.
        var selects = features.Select((f, i) => $"{Expression(f, sql)} AS c{i}").ToList();
        var t = sql[target.Name];
        selects.Add(task switch
        {
            MlTask.BinaryClassification => $"{BinaryLabel(target, t)} AS label",
            MlTask.MulticlassClassification => $"{t}::VARCHAR AS label",
            _ => $"{t}::DOUBLE AS label",
        });
        using (var connection = DuckDb.Open(tempDirectory))
        using (var command = connection.CreateCommand())
        {
            // Rows without a label teach nothing and cannot be scored.
            command.CommandText = $"COPY (SELECT {string.Join(", ", selects)} FROM {sql.ScanParquet(parquet)} WHERE {t} IS NOT NULL) TO {DuckDb.Literal(csvPath)} (HEADER, DELIMITER ',')";
            command.ExecuteNonQuery();
        }
        var columns = features.Select((f, i) => new TextLoader.Column(f.Column, f.Kind == FeatureKind.Numeric ? DataKind.Single : DataKind.String, i)).ToList();
        columns.Add(new TextLoader.Column(LabelColumn, task switch
        {
            MlTask.BinaryClassification => DataKind.Boolean,
            MlTask.MulticlassClassification => DataKind.String,
            _ => DataKind.Single,
        }, features.Count));
        var loader = ml.Data.CreateTextLoader(new TextLoader.Options
        {
            Columns = [.. columns],
            HasHeader = true,
            Separators = [','],
            AllowQuoting = true,
            ReadMultilines = true,
            MissingRealsAsNaNs = true,
        });
        return loader.Load(csvPath);
    }

    /// <summary>The values of each one-hot encoded column in the training data, so that serving can refuse values the model never saw.</summary>
    public static IReadOnlyDictionary<string, IReadOnlyList<string>> Categories(string parquet, IReadOnlyList<FeatureColumn> features, string tempDirectory)
    {
        var result = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        var categorical = features.Where(f => f.Kind == FeatureKind.Categorical).ToList();
        if (categorical.Count == 0) return result;
        using var connection = DuckDb.Open(tempDirectory);
        var sql = SqlColumns.OfParquet(parquet);
        foreach (var f in categorical) result[f.SourceColumn] = DistinctValues(connection, parquet, sql, f.SourceColumn);
        return result;
    }

    /// <summary>
    /// The most frequent values (at most <paramref name="limit"/>) of each categorical column, as the model reads them
    /// (missing is the empty string), most frequent first: the codes of LightGBM's native categories.
    /// </summary>
    public static IReadOnlyDictionary<string, IReadOnlyList<string>> FrequentValues(string parquet, IEnumerable<FeatureColumn> features, string tempDirectory, int limit)
    {
        var result = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        using var connection = DuckDb.Open(tempDirectory);
        var sql = SqlColumns.OfParquet(parquet);
        foreach (var f in features)
        {
            using var command = connection.CreateCommand();
            command.CommandText = $"SELECT {Expression(f, sql)} AS v, count(*) AS n FROM {sql.ScanParquet(parquet)} GROUP BY v ORDER BY n DESC, v LIMIT {limit}";
            var values = new List<string>();
            using var reader = command.ExecuteReader();
            while (reader.Read()) values.Add(reader.GetString(0));
            result[f.Name] = values;
        }
        return result;
    }

    /// <summary>The distinct values of a multiclass target, in ordinal order: the model's classes.</summary>
    public static IReadOnlyList<string> Classes(string parquet, ColumnProfile target, string tempDirectory)
    {
        using var connection = DuckDb.Open(tempDirectory);
        return DistinctValues(connection, parquet, SqlColumns.OfParquet(parquet), target.Name);
    }

    /// <summary>How many distinct values a column has, counted exactly up to <paramref name="cap"/> (more: <paramref name="cap"/>).</summary>
    public static long DistinctCount(string parquet, string column, string tempDirectory, int cap)
    {
        using var connection = DuckDb.Open(tempDirectory);
        using var command = connection.CreateCommand();
        var sql = SqlColumns.OfParquet(parquet);
        var id = sql[column];
        command.CommandText = $"SELECT count(*) FROM (SELECT DISTINCT {id} FROM {sql.ScanParquet(parquet)} WHERE {id} IS NOT NULL LIMIT {cap})";
        return Convert.ToInt64(command.ExecuteScalar(), CultureInfo.InvariantCulture);
    }

    private static List<string> DistinctValues(DuckDB.NET.Data.DuckDBConnection connection, string parquet, SqlColumns sql, string column)
    {
        using var command = connection.CreateCommand();
        var id = sql[column];
        command.CommandText = $"SELECT DISTINCT {id}::VARCHAR AS v FROM {sql.ScanParquet(parquet)} WHERE {id} IS NOT NULL ORDER BY v";
        var values = new List<string>();
        using var reader = command.ExecuteReader();
        while (reader.Read()) values.Add(reader.GetString(0));
        return values;
    }

    /// <summary>The DuckDB expression that computes a model input column from the source row.</summary>
    internal static string Expression(FeatureColumn f, SqlColumns sql)
    {
        var source = sql[f.SourceColumn];
        if (f.SourceType is "DATE" or "TIMESTAMP" or "TIMESTAMP WITH TIME ZONE")
        {
            var part = f.Name[(f.SourceColumn.Length + 1)..];
            return $"date_part({DuckDb.Literal(part)}, {source})::DOUBLE";
        }
        return f.Kind == FeatureKind.Numeric ? $"{source}::DOUBLE" : $"coalesce({source}::VARCHAR, '')";
    }

    /// <summary>The positive class of a binary target: true, the larger number, a yes-like word (yes, y, true, t), or else the rarer of the two values.</summary>
    public static string PositiveClass(ColumnProfile target)
    {
        if (target.Type == "BOOLEAN") return "true";
        if (DuckDb.IsNumeric(target.Type)) return (target.Max ?? 1).ToString(CultureInfo.InvariantCulture);
        var values = target.TopValues ?? [];
        if (values.Count < 2) return "true";
        if (values.Take(2).Where(v => v.Value.Trim().ToLowerInvariant() is "yes" or "y" or "true" or "t").ToList() is [var yes]) return yes.Value;
        return values.OrderBy(v => v.Count).ThenByDescending(v => v.Value, StringComparer.Ordinal).First().Value;
    }

    private static string BinaryLabel(ColumnProfile target, string t)
    {
        if (target.Type == "BOOLEAN") return t;
        return DuckDb.IsNumeric(target.Type)
            ? $"({t}::DOUBLE = {(target.Max ?? 1).ToString("R", CultureInfo.InvariantCulture)})"
            : $"({t}::VARCHAR = {DuckDb.Literal(PositiveClass(target))})";
    }

    private static IEnumerable<string> DateParts(string type) =>
        type == "DATE" ? ["year", "month", "day", "dayofweek"] : ["year", "month", "day", "dayofweek", "hour"];

    private static bool LooksLikeText(ColumnProfile c) =>
        c.Distinct > OneHotLimit && (c.TopValues ?? []).Any(v => v.Value.Contains(' ', StringComparison.Ordinal) && v.Value.Length > 20);
}
