using System.Diagnostics;
using Stratus.Client;
using Stratus.Server.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Stratus.Server.Storage;

/// <summary>
/// Encryption at rest against none, side by side in one run: the benchmarks' server (encryption on, the default)
/// and a second one with <c>EncryptAtRest</c> off, both on SQLite and local files, their local copies in the same kind
/// of folder: dataset upload (CSV to a ready version) and endpoint throughput (a model is opened once, at load).
/// </summary>
internal static class EncryptionBenchmark
{
    public static async Task RunAsync(StratusClient encrypted, string work, string encryptedUrl, string token, int uploadRows, IServiceProvider encryptedServices)
    {
        var dataDir = Path.Combine(work, "plain-node");
        var app = StratusServer.Create([], o =>
        {
            o.Storage.DataDir = dataDir;
            o.Host.Urls = "http://127.0.0.1:0";
            o.Security.PrintAdminToken = false;
            o.Jobs.JobHost = JobHost.Path;
            o.Storage.EncryptAtRest = false;
        });
        var urls = await app.StartStratusAsync();
        var plainToken = (await File.ReadAllTextAsync(Path.Combine(dataDir, "admin.token"))).Trim();
        var plain = StratusClient.Create(urls[0], plainToken);
        Console.WriteLine("encryption: AES-256-GCM at rest (the default) against none, same machine, same moment");

        // The store itself: 256 MiB of random bytes put and read back whole (hash verified), best of 3 each.
        var bytes = new byte[256 << 20];
        new Random(1).NextBytes(bytes);
        var (sealedStore, plainStore) = (encryptedServices.GetRequiredService<IBlobStore>(), app.Services.GetRequiredService<IBlobStore>());
        var (putOn, putOff, readOn, readOff) = (TimeSpan.MaxValue, TimeSpan.MaxValue, TimeSpan.MaxValue, TimeSpan.MaxValue);
        for (var i = 0; i < 3; i++)
        {
            bytes[0] = (byte)i; // new bytes each round: a put of stored bytes would only be a lookup
            BlobRef? sealedBlob = null, plainBlob = null;
            putOff = Min(putOff, await TimeAsync(async () => plainBlob = await plainStore.PutAsync(new MemoryStream(bytes), CancellationToken.None)));
            putOn = Min(putOn, await TimeAsync(async () => sealedBlob = await sealedStore.PutAsync(new MemoryStream(bytes), CancellationToken.None)));
            readOff = Min(readOff, await TimeAsync(() => ReadAllAsync(plainStore, plainBlob!.Sha256)));
            readOn = Min(readOn, await TimeAsync(() => ReadAllAsync(sealedStore, sealedBlob!.Sha256)));
        }
        Console.WriteLine($"  blob store, 256 MiB: put off {256 / putOff.TotalSeconds,6:F0} MiB/s | on {256 / putOn.TotalSeconds,6:F0} MiB/s | ratio {putOff / putOn:F2}; " +
            $"read off {256 / readOff.TotalSeconds,6:F0} MiB/s | on {256 / readOn.TotalSeconds,6:F0} MiB/s | ratio {readOff / readOn:F2}");

        // Upload: CSV to a ready version (parse, Parquet, profile, seal, store); alternating, best of 3 each.
        var csv = Path.Combine(work, "encryption-upload.csv");
        BenchData.WriteTransactions(csv, uploadRows);
        var size = new FileInfo(csv).Length / 1e6;
        var (on, off) = (TimeSpan.MaxValue, TimeSpan.MaxValue);
        for (var i = 0; i < 3; i++)
        {
            off = Min(off, await TimeAsync(() => plain.Datasets.UploadAsync($"enc-{i}", csv)));
            on = Min(on, await TimeAsync(() => encrypted.Datasets.UploadAsync($"enc-{i}", csv)));
        }
        Console.WriteLine($"  dataset upload ({uploadRows:N0} rows, {size:F1} MB): off {off.TotalSeconds,6:F2} s ({size / off.TotalSeconds:F1} MB/s) | " +
            $"on {on.TotalSeconds,6:F2} s ({size / on.TotalSeconds:F1} MB/s) | throughput ratio (on / off) {off / on:F2} (aim >= 0.90)");

        // Serving: the same training on each, one row per request, alternating rounds.
        await ServeBenchmark.DeployAsync(encrypted, work);
        await ServeBenchmark.DeployAsync(plain, work);
        // A warm-up round each (JIT, connection pools, the model load), then three alternating rounds.
        await ServeBenchmark.Load($"{urls[0]}/api/v1/endpoints/bench/predict", plainToken, ServeBenchmark.Row, 16, 5_000);
        await ServeBenchmark.Load($"{encryptedUrl}/api/v1/endpoints/bench/predict", token, ServeBenchmark.Row, 16, 5_000);
        var ratios = new List<double>();
        for (var round = 0; round < 3; round++)
        {
            var b = await ServeBenchmark.Load($"{urls[0]}/api/v1/endpoints/bench/predict", plainToken, ServeBenchmark.Row, 16, 20_000);
            var a = await ServeBenchmark.Load($"{encryptedUrl}/api/v1/endpoints/bench/predict", token, ServeBenchmark.Row, 16, 20_000);
            Console.WriteLine($"  serving, concurrency 16, round {round + 1}: off {b.Rps,8:F0} req/s p99 {b.P99,6:F2} ms | on {a.Rps,8:F0} req/s p99 {a.P99,6:F2} ms");
            ratios.Add(a.Rps / b.Rps);
        }
        Console.WriteLine($"    median throughput ratio (on / off): {ratios.Order().ElementAt(1):F2} (aim >= 0.98)");
        await app.StopAsync();
        await app.DisposeAsync();
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    private static async Task ReadAllAsync(IBlobStore store, string sha256)
    {
        await using var stream = await store.OpenReadAsync(sha256, CancellationToken.None);
        await stream.CopyToAsync(Stream.Null);
    }

    private static async Task<TimeSpan> TimeAsync(Func<Task> action)
    {
        var stopwatch = Stopwatch.StartNew();
        await action();
        return stopwatch.Elapsed;
    }
}
