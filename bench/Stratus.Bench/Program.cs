using System.Diagnostics;
using System.Globalization;
using Stratus;
using Stratus.Client;
using Stratus.Ml.Data;
using Stratus.Server.Hosting;

// Side-by-side benchmarks, each printing a ratio against a reference run on the same machine, same data, same moment.
//   dotnet run -c Release --project bench/Stratus.Bench -- upload [rows]    CSV upload to ready version vs DuckDB's own CSV->Parquet copy
//   dotnet run -c Release --project bench/Stratus.Bench -- metrics [points] metric points per second through the batch endpoint (SQLite)
//   dotnet run -c Release --project bench/Stratus.Bench -- serve [requests] [concurrency,...] a 100-tree LightGBM endpoint vs a bare minimal-API endpoint calling the same model
//   dotnet run -c Release --project bench/Stratus.Bench -- serve-python [requests] [concurrency,...]   Stratus vs FastAPI + uvicorn + XGBoost (Debian's python3 packages)
//   dotnet run -c Release --project bench/Stratus.Bench -- serve-soak [minutes]   10 minutes at 80% of peak: errors, latency and memory per minute
//   dotnet run -c Release --project bench/Stratus.Bench -- serve-batching [requests]   adaptive micro-batching on vs off, an ONNX MLP at concurrency 64
//   dotnet run -c Release --project bench/Stratus.Bench -- serve-coldstart [rounds]   scale to zero, then the waking request vs warm ones, and memory
//   dotnet run -c Release --project bench/Stratus.Bench -- drift [baseline rows] [window rows] [columns]   a drift check at scale vs DuckDB parsing the capture alone
//   dotnet run -c Release --project bench/Stratus.Bench -- serve-capture [requests] [check seconds]   serving throughput with every request captured and a policy checking drift every 2 s (0: none) vs neither
//   dotnet run -c Release --project bench/Stratus.Bench -- wide [columns] [rows]   ingesting a wide CSV (profile and Parquet) vs DuckDB's own CSV->Parquet copy: time and peak memory
//   dotnet run -c Release --project bench/Stratus.Bench -- failover [rounds] [lease seconds]   kill -9 of a worker mid-AutoML to the job running on another worker
//   dotnet run -c Release --project bench/Stratus.Bench -- failover-server [rounds] [soak seconds]   kill -9 of one of two cluster servers mid-rollout: the silo declared dead, the rollout stepping again, requests to the survivor; then false alarms under load
//   dotnet run -c Release --project bench/Stratus.Bench -- scale [upload rows]   PostgreSQL + S3 vs SQLite + local files: metric ingest (4 and 8 clients), dataset upload, endpoint throughput (0 rows: the ingest alone)
//   dotnet run -c Release --project bench/Stratus.Bench -- encryption [upload rows]   encryption at rest on vs off: the blob store (256 MiB put and read), dataset upload and endpoint throughput
//   dotnet run -c Release --project bench/Stratus.Bench -- train [rows]     `stratus train` (a job) vs ML.NET's LightGBM called directly
//   dotnet run -c Release --project bench/Stratus.Bench -- automl WORK [budget] [dataset,...|all] [--verbose]   Stratus AutoML on bench/automl's folds (bench/automl/run.sh runs it all)
var which = args.Length > 0 ? args[0] : "all";
if (which == "automl")
{
    AutoMlBenchmark.Run(args[1], args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 10,
        args.Length > 3 && args[3] != "all" ? args[3].Split(',') : [], args.Contains("--verbose"));
    return;
}
var work = Directory.CreateTempSubdirectory("stratus-bench-").FullName;
if (which == "wide")
{
    try
    {
        WideBenchmark.Run(work, args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 1000, args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 30);
    }
    finally
    {
        Directory.Delete(work, recursive: true);
    }
    return;
}
if (which == "failover")
{
    try
    {
        await FailoverBenchmark.RunAsync(work, args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 3,
            TimeSpan.FromSeconds(args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 10));
    }
    finally
    {
        Directory.Delete(work, recursive: true);
    }
    return;
}
if (which == "failover-server")
{
    try
    {
        await ServerFailoverBenchmark.RunAsync(work, args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 4, args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 60);
    }
    finally
    {
        Directory.Delete(work, recursive: true);
    }
    return;
}
if (which == "drift")
{
    try
    {
        MonitoringBenchmark.Run(work, args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 1_000_000, args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 100_000,
            args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 50);
    }
    finally
    {
        Directory.Delete(work, recursive: true);
    }
    return;
}
try
{
    var app = StratusServer.Create([], o =>
    {
        o.Storage.DataDir = Path.Combine(work, "data");
        o.Host.Urls = "http://127.0.0.1:0";
        o.Security.PrintAdminToken = false;
        o.Jobs.JobHost = JobHost.Path;
        o.Serving.ReplicaTick = TimeSpan.FromMilliseconds(100);
        o.Monitoring.MonitorTick = TimeSpan.FromMilliseconds(500);
    });
    var urls = await app.StartStratusAsync();
    var token = (await File.ReadAllTextAsync(Path.Combine(work, "data", "admin.token"))).Trim();
    var client = StratusClient.Create(urls[0], token);

    if (which is "all" or "upload") await UploadBenchmark(client, work, args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 2_000_000);
    if (which is "all" or "metrics") await MetricsBenchmark(client, args.Length > 1 && which == "metrics" ? int.Parse(args[1], CultureInfo.InvariantCulture) : 200_000);
    if (which is "all" or "train") await TrainBenchmark.RunAsync(client, work, args.Length > 1 && which == "train" ? int.Parse(args[1], CultureInfo.InvariantCulture) : 200_000);
    if (which is "scale") await ScaleBenchmark.RunAsync(client, work, urls[0], token, args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 1_000_000);
    if (which is "encryption") await EncryptionBenchmark.RunAsync(client, work, urls[0], token, args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 1_000_000, app.Services);
    if (which is "serve-soak") await ServeBenchmark.RunSoakAsync(client, work, urls[0], token, args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 10);
    if (which is "serve-capture") await ServeBenchmark.RunCaptureAsync(client, work, urls[0], token, args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 60_000,
        args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 2);
    if (which is "serve-coldstart") await ServeBenchmark.RunColdStartAsync(client, work, urls[0], token, args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 5);
    if (which is "serve-python")
    {
        var concurrency = args.Length > 2 ? args[2].Split(',').Select(c => int.Parse(c, CultureInfo.InvariantCulture)).ToArray() : [16];
        await ServeBenchmark.RunPythonAsync(client, work, urls[0], token, args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 5_000, concurrency);
    }
    if (which is "all" or "serve-batching")
        await ServeBenchmark.RunBatchingAsync(client, urls[0], token, args.Length > 1 && which == "serve-batching" ? int.Parse(args[1], CultureInfo.InvariantCulture) : 10_000, 64);
    if (which is "all" or "serve")
    {
        var concurrency = args.Length > 2 && which == "serve" ? args[2].Split(',').Select(c => int.Parse(c, CultureInfo.InvariantCulture)).ToArray() : [1, 16];
        await ServeBenchmark.RunAsync(client, work, urls[0], token, args.Length > 1 && which == "serve" ? int.Parse(args[1], CultureInfo.InvariantCulture) : 20_000, concurrency);
    }
    await app.StopAsync();
}
finally
{
    Directory.Delete(work, recursive: true);
}

static async Task UploadBenchmark(StratusClient client, string work, int rows)
{
    var csv = Path.Combine(work, "transactions.csv");
    BenchData.WriteTransactions(csv, rows);
    var size = new FileInfo(csv).Length;
    Console.WriteLine($"upload: {rows:N0} rows, {size / 1e6:F1} MB of CSV, best of 3");

    var reference = BestOf(3, i =>
    {
        using var connection = DuckDb.Open(work);
        using var command = connection.CreateCommand();
        command.CommandText = $"COPY (SELECT * FROM read_csv({DuckDb.Literal(csv)}, header = true)) TO {DuckDb.Literal(Path.Combine(work, $"ref{i}.parquet"))} (FORMAT parquet, COMPRESSION zstd)";
        command.ExecuteNonQuery();
        return Task.CompletedTask;
    });
    // A new dataset name each time: the same bytes under one name would return the existing version at once.
    var stratus = BestOf(3, i => client.Datasets.UploadAsync($"bench-{i}", csv));
    // The same ingestion called in-process: what HTTP, hashing, validation and bookkeeping add on top.
    var engine = BestOf(3, i =>
    {
        DatasetIngestor.Ingest(csv, SourceFormat.Csv, Path.Combine(work, $"engine{i}.parquet"), work);
        return Task.CompletedTask;
    });
    Console.WriteLine($"  DuckDB COPY csv->parquet      {reference.TotalSeconds,8:F2} s  {size / 1e6 / reference.TotalSeconds,8:F1} MB/s");
    Console.WriteLine($"  Stratus engine (parse+parquet+profile, in-process) {engine.TotalSeconds,8:F2} s");
    Console.WriteLine($"  Stratus upload to version     {stratus.TotalSeconds,8:F2} s  {size / 1e6 / stratus.TotalSeconds,8:F1} MB/s");
    Console.WriteLine($"  throughput ratio (Stratus / DuckDB): {reference / stratus:F2}  (aim: >= 0.80)");
}

static async Task MetricsBenchmark(StratusClient client, int points)
{
    const int batch = 1000, concurrency = 4;
    var run = await client.Runs.CreateAsync(new CreateRunRequest("bench-metrics"));
    var batches = Enumerable.Range(0, points / batch)
        .Select(b => (IReadOnlyList<MetricPoint>)[.. Enumerable.Range(0, batch).Select(i => new MetricPoint($"m{i % 10}", i * 0.5, (b * batch) + i))])
        .ToList();
    await client.Runs.LogMetricsAsync(run.Id, batches[0]); // warm-up
    var stopwatch = Stopwatch.StartNew();
    await Parallel.ForEachAsync(batches, new ParallelOptions { MaxDegreeOfParallelism = concurrency }, async (b, ct) => await client.Runs.LogMetricsAsync(run.Id, b, ct));
    stopwatch.Stop();
    var rate = batches.Count * batch / stopwatch.Elapsed.TotalSeconds;
    Console.WriteLine($"metrics: {batches.Count * batch:N0} points in batches of {batch}, {concurrency} concurrent clients, SQLite");
    Console.WriteLine($"  {rate:N0} points/s in {stopwatch.Elapsed.TotalSeconds:F2} s; ratio to the 50,000 points/s aim: {rate / 50_000:F2}");
}

static TimeSpan BestOf(int times, Func<int, Task> action)
{
    var best = TimeSpan.MaxValue;
    for (var i = 0; i < times; i++)
    {
        var stopwatch = Stopwatch.StartNew();
        action(i).GetAwaiter().GetResult();
        best = TimeSpan.FromTicks(Math.Min(best.Ticks, stopwatch.Elapsed.Ticks));
    }
    return best;
}

/// <summary>The stratus command built beside the benchmarks: jobs run in processes of it.</summary>
internal static class JobHost
{
    public static string Path { get; } = System.IO.Path.GetFullPath(typeof(JobHost).Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyMetadataAttribute), false)
        .Cast<System.Reflection.AssemblyMetadataAttribute>().Single(a => a.Key == "StratusCli").Value!);
}
