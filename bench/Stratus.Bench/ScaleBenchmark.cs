using System.Diagnostics;
using Stratus;
using Stratus.Client;
using Stratus.Server.Hosting;
using Stratus.Testing;

/// <summary>
/// The cluster's storage against the embedded one, side by side in one run: a server on PostgreSQL (a throwaway
/// cluster from Debian's initdb/pg_ctl) and S3 (moto_server on loopback) next to the SQLite + local-files server the
/// other benchmarks use: metric ingest, dataset upload and endpoint throughput.
/// </summary>
internal static class ScaleBenchmark
{
    public static async Task RunAsync(StratusClient embedded, string work, string embeddedUrl, string token, int uploadRows)
    {
        var pg = await PostgresCluster.Shared.Value;
        var moto = await MotoServer.Shared.Value;
        var dataDir = Path.Combine(work, "cluster-node");
        var app = StratusServer.Create([], o =>
        {
            o.Storage.DataDir = dataDir;
            o.Host.Urls = "http://127.0.0.1:0";
            o.Security.PrintAdminToken = false;
            o.Jobs.JobHost = JobHost.Path;
            o.Storage.Database = "postgres";
            o.Storage.ConnectionString = pg.CreateDatabaseAsync().GetAwaiter().GetResult();
            (o.Storage.Store, o.Storage.S3Endpoint) = (moto.CreateBucketAsync().GetAwaiter().GetResult(), moto.Endpoint);
        });
        var urls = await app.StartStratusAsync();
        var clusterToken = (await File.ReadAllTextAsync(Path.Combine(dataDir, "admin.token"))).Trim();
        var cluster = StratusClient.Create(urls[0], clusterToken);
        Console.WriteLine("scale: PostgreSQL + S3 (moto_server) against SQLite + local files, same machine, same moment");

        // (c) Metric ingest: batches of 1,000 points from 4 and from 8 clients at once (trainings writing side by side);
        // a round on each to warm the JIT and the connection pools, then three alternating rounds and their medians
        // (this shared machine varies by a tenth).
        await MetricsAsync(embedded, 50_000, 4);
        await MetricsAsync(cluster, 50_000, 4);
        foreach (var clients in new[] { 4, 8 })
        {
            var (sqliteRates, pgRates) = (new List<double>(), new List<double>());
            for (var round = 0; round < 3; round++)
            {
                sqliteRates.Add(await MetricsAsync(embedded, 200_000, clients));
                pgRates.Add(await MetricsAsync(cluster, 200_000, clients));
                Console.WriteLine($"  metric ingest, {clients} clients, round {round + 1}: SQLite {sqliteRates[^1],10:N0} points/s | PostgreSQL (COPY) {pgRates[^1],10:N0} points/s");
            }
            var (sqliteRate, pgRate) = (sqliteRates.Order().ElementAt(1), pgRates.Order().ElementAt(1));
            Console.WriteLine($"    medians, {clients} clients: SQLite {sqliteRate:N0} points/s | PostgreSQL {pgRate:N0} points/s | " +
                $"ratio {pgRate / sqliteRate:F2}; PostgreSQL / 100,000 aim: {pgRate / 100_000:F2}");
        }

        // (d) Dataset upload: CSV to a ready version (parse, Parquet, profile, store), best of 3 each; 0 rows measures the
        // metric ingest alone.
        if (uploadRows == 0)
        {
            await app.StopAsync();
            await app.DisposeAsync();
            return;
        }
        var csv = Path.Combine(work, "scale-upload.csv");
        BenchData.WriteTransactions(csv, uploadRows);
        var size = new FileInfo(csv).Length / 1e6;
        var local = await BestOfAsync(3, i => embedded.Datasets.UploadAsync($"scale-{i}", csv));
        var s3 = await BestOfAsync(3, i => cluster.Datasets.UploadAsync($"scale-{i}", csv));
        Console.WriteLine($"  dataset upload ({uploadRows:N0} rows, {size:F1} MB): local {local.TotalSeconds,6:F2} s | S3 {s3.TotalSeconds,6:F2} s | " +
            $"throughput ratio (S3 / local) {local / s3:F2}");

        // (b) Endpoint throughput: the same training on each, one row per request, alternating rounds.
        await ServeBenchmark.DeployAsync(embedded, work);
        await ServeBenchmark.DeployAsync(cluster, work);
        foreach (var concurrency in new[] { 16 })
        {
            var ratios = new List<double>();
            for (var round = 0; round < 3; round++)
            {
                var a = await ServeBenchmark.Load($"{embeddedUrl}/api/v1/endpoints/bench/predict", token, ServeBenchmark.Row, concurrency, 20_000);
                var b = await ServeBenchmark.Load($"{urls[0]}/api/v1/endpoints/bench/predict", clusterToken, ServeBenchmark.Row, concurrency, 20_000);
                Console.WriteLine($"  serving, concurrency {concurrency}: SQLite + local {a.Rps,8:F0} req/s p99 {a.P99,6:F2} ms | PostgreSQL + S3 {b.Rps,8:F0} req/s p99 {b.P99,6:F2} ms");
                ratios.Add(b.Rps / a.Rps);
            }
            Console.WriteLine($"    median throughput ratio (PostgreSQL + S3 / SQLite + local): {ratios.Order().ElementAt(1):F2} (aim >= 0.95)");
        }
        await app.StopAsync();
        await app.DisposeAsync();
    }

    private static async Task<double> MetricsAsync(StratusClient client, int points, int concurrency)
    {
        const int batch = 1000;
        var run = await client.Runs.CreateAsync(new CreateRunRequest("bench-scale-metrics"));
        var batches = Enumerable.Range(0, points / batch)
            .Select(b => (IReadOnlyList<MetricPoint>)[.. Enumerable.Range(0, batch).Select(i => new MetricPoint($"m{i % 10}", i * 0.5, (b * batch) + i))])
            .ToList();
        await client.Runs.LogMetricsAsync(run.Id, batches[0]);
        var stopwatch = Stopwatch.StartNew();
        await Parallel.ForEachAsync(batches, new ParallelOptions { MaxDegreeOfParallelism = concurrency }, async (b, ct) => await client.Runs.LogMetricsAsync(run.Id, b, ct));
        return batches.Count * batch / stopwatch.Elapsed.TotalSeconds;
    }

    private static async Task<TimeSpan> BestOfAsync(int times, Func<int, Task> action)
    {
        var best = TimeSpan.MaxValue;
        for (var i = 0; i < times; i++)
        {
            var stopwatch = Stopwatch.StartNew();
            await action(i);
            best = TimeSpan.FromTicks(Math.Min(best.Ticks, stopwatch.Elapsed.Ticks));
        }
        return best;
    }
}
