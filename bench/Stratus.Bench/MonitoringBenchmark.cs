using System.Diagnostics;
using System.Globalization;
using System.Text;
using Stratus;
using Stratus.Ml.Data;
using Stratus.Ml.Drift;

/// <summary>
/// Drift at scale: a baseline of <c>baselineRows</c> rows and a window of <c>windowRows</c> captured requests, each of
/// <c>columns</c> columns (four in five numeric, the rest categorical), sketched and compared as a drift check does;
/// side by side with DuckDB parsing the same capture files and nothing more, the floor of any check that reads them.
/// </summary>
internal static class MonitoringBenchmark
{
    public static void Run(string work, int baselineRows, int windowRows, int columns)
    {
        var numeric = columns * 4 / 5;
        var names = Enumerable.Range(0, columns).Select(i => i < numeric ? $"x{i}" : $"k{i}").ToList();
        var kinds = names.ToDictionary(n => n, n => n[0] == 'x' ? DriftSketches.Numeric : DriftSketches.Categorical);
        Console.WriteLine($"drift: baseline {baselineRows:N0} rows, window {windowRows:N0} captured requests, {columns} columns ({numeric} numeric, {columns - numeric} categorical)");

        // The baseline as training data is stored: Parquet.
        var parquet = Path.Combine(work, "baseline.parquet");
        using (var connection = DuckDb.Open(work))
        using (var command = connection.CreateCommand())
        {
            var selects = names.Select((n, i) => n[0] == 'x' ? $"random() * 100 + {i} AS {n}" : $"'v' || (random() * 20)::INTEGER AS {n}");
            command.CommandText = $"SELECT setseed(0.42); COPY (SELECT {string.Join(", ", selects)} FROM range({baselineRows})) TO {DuckDb.Literal(parquet)} (FORMAT parquet)";
            command.ExecuteNonQuery();
        }

        // The window as the server captures it: JSON lines in files of about a second's requests each; x0 drifts.
        var folder = Directory.CreateDirectory(Path.Combine(work, "capture")).FullName;
        var random = new Random(7);
        var now = DateTimeOffset.UtcNow;
        var files = new List<string>();
        const int perFile = 2_000;
        for (var start = 0; start < windowRows; start += perFile)
        {
            var text = new StringBuilder();
            for (var r = start; r < Math.Min(windowRows, start + perFile); r++)
            {
                text.Append(CultureInfo.InvariantCulture, $"{{\"time\":\"{now.AddMilliseconds(-windowRows + r):O}\",\"request_id\":\"r{r}\",\"row\":0,\"model\":{{\"name\":\"m\",\"version\":1}},\"inputs\":{{");
                for (var i = 0; i < names.Count; i++)
                {
                    if (i > 0) text.Append(',');
                    text.Append('"').Append(names[i]).Append("\":");
                    if (names[i][0] == 'x') text.Append(((random.NextDouble() * 100) + i + (i == 0 ? 30 : 0)).ToString("F4", CultureInfo.InvariantCulture));
                    else text.Append("\"v").Append(random.Next(21)).Append('"');
                }
                text.Append(CultureInfo.InvariantCulture, $"}},\"prediction\":{{\"value\":{random.NextDouble().ToString("F4", CultureInfo.InvariantCulture)}}}}}\n");
            }
            var file = Path.Combine(folder, $"{files.Count:D6}.jsonl");
            File.WriteAllText(file, text.ToString());
            files.Add(file);
        }
        var size = files.Sum(f => new FileInfo(f).Length);

        var inputs = names.Select(n => new ModelInput(n, n[0] == 'x' ? "DOUBLE" : "VARCHAR")).ToList();
        var watch = Stopwatch.StartNew();
        var baseline = Baselines.OfDataset(parquet, inputs, work);
        var baselineSeconds = watch.Elapsed.TotalSeconds;
        Console.WriteLine($"  baseline sketch (once per model version, at training): {baselineSeconds:F2} s, {baselineRows / baselineSeconds / 1e6:F2} M rows/s");

        for (var round = 0; round < 3; round++)
        {
            double reference;
            using (var connection = DuckDb.Open(work))
            using (var command = connection.CreateCommand())
            {
                watch.Restart();
                command.CommandText = $"CREATE TEMP TABLE parsed AS SELECT json FROM read_json_objects([{string.Join(", ", files.Select(DuckDb.Literal))}], format = 'newline_delimited')";
                command.ExecuteNonQuery();
                reference = watch.Elapsed.TotalSeconds;
            }
            watch.Restart();
            WindowSketch window;
            using (var connection = DuckDb.Open(work))
            {
                window = CaptureWindow.Sketch(connection, files, now.AddHours(-1), now.AddMinutes(1), kinds, new PredictionColumn(DriftSketches.Numeric, ["prediction", "value"], "m", 1));
            }
            var drift = names.Select(n => DriftDetector.Compare(n, baseline[n], window.Features[n])).ToList();
            var check = watch.Elapsed.TotalSeconds;
            Console.WriteLine($"  round {round + 1}: drift check {check:F2} s ({window.Rows:N0} rows, {size / 1e6:F0} MB of JSON; drifted: {string.Join(", ", drift.Where(d => d.Status == "drift").Select(d => d.Column))}) " +
                $"| DuckDB parsing the files alone {reference:F2} s | ratio {check / reference:F1}x");
        }
    }
}
