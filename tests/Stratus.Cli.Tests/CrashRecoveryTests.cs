using System.Net;
using System.Text;
using Stratus.Client;

namespace Stratus.Cli.Tests;

public sealed class CrashRecoveryTests : IDisposable
{
    private readonly string _home = Directory.CreateTempSubdirectory("stratus-crash-").FullName;

    public void Dispose() => Directory.Delete(_home, recursive: true);

    [Fact]
    public async Task Should_lose_nothing_acknowledged_and_show_nothing_partial_after_kill_9_during_an_upload()
    {
        var port = Stratus.FreePort();
        var server = await ServerProcess.StartAsync(_home, port);
        var token = (await File.ReadAllTextAsync(Path.Combine(_home, "admin.token"))).Trim();
        var client = StratusClient.Create(server.Url, token);

        var acknowledged = await client.Datasets.UploadAsync("before", new MemoryStream("x,y\n1,2\n3,4\n"u8.ToArray()));
        var run = await client.Runs.CreateAsync(new CreateRunRequest("crash"));
        await client.Runs.LogMetricsAsync(run.Id, [new MetricPoint("loss", 0.5, 1)]);

        // An upload that sends 1 MiB of 2 MB and then stalls: the server is killed while it is receiving.
        var stalled = new StallingStream(Encoding.UTF8.GetBytes("a,b\n" + string.Concat(Enumerable.Repeat("1,2\n", 500_000))));
        var upload = client.Datasets.UploadAsync("partial", stalled, "csv");
        await stalled.Stalled.Task.WaitAsync(TimeSpan.FromSeconds(60));
        var tmp = Path.Combine(_home, "tmp");
        for (var i = 0; i < 100 && !Directory.EnumerateFiles(tmp).Any(f => new FileInfo(f).Length > 0); i++) await Task.Delay(50);
        Assert.NotEmpty(Directory.EnumerateFiles(tmp)); // the server really was mid-upload

        await server.KillHardAsync();
        stalled.Release(); // the client now finds the connection dead
        await Assert.ThrowsAnyAsync<Exception>(() => upload.WaitAsync(TimeSpan.FromSeconds(60)));

        await using var restarted = await ServerProcess.StartAsync(_home, port);
        Assert.Empty(Directory.EnumerateFileSystemEntries(tmp));
        var missing = await Assert.ThrowsAsync<StratusApiException>(() => client.Datasets.GetAsync("partial"));
        Assert.Equal(HttpStatusCode.NotFound, missing.Status);
        var before = await client.Datasets.GetAsync("before");
        Assert.Equal(acknowledged.Sha256, before.Sha256);
        Assert.Equal(2, before.Rows);
        Assert.Equal(0.5, (await client.Runs.GetAsync(run.Id)).LatestMetrics["loss"]);

        var parquet = Path.Combine(_home, "check.parquet");
        Assert.Equal(before.ParquetSha256, await client.Datasets.DownloadAsync("before", parquet));
        var after = await client.Datasets.UploadAsync("partial", new MemoryStream("a,b\n1,2\n"u8.ToArray()));
        Assert.Equal(1, after.Version);
    }

    [Fact]
    public async Task Should_resume_a_training_job_after_kill_9_without_leaving_its_run_running_or_registering_twice()
    {
        var port = Stratus.FreePort();
        var server = await ServerProcess.StartAsync(_home, port);
        var client = StratusClient.Create(server.Url, (await File.ReadAllTextAsync(Path.Combine(_home, "admin.token"))).Trim());
        var random = new Random(3);
        var csv = new StringBuilder("a,b,c,label\n");
        for (var i = 0; i < 15_000; i++)
        {
            var a = random.NextDouble();
            csv.Append(System.Globalization.CultureInfo.InvariantCulture, $"{a:F4},{random.NextDouble():F4},{random.Next(50)},{(a + (random.NextDouble() * 0.3) > 0.6 ? 1 : 0)}\n");
        }
        await client.Datasets.UploadAsync("crash-train", new MemoryStream(Encoding.UTF8.GetBytes(csv.ToString())));
        var job = await client.Jobs.TrainAsync(new TrainRequest("crash-train", "label", Register: "crash-model", Iterations: 200));

        JobInfo running = job;
        for (var i = 0; i < 400 && running.RunId is null; i++)
        {
            await Task.Delay(25);
            running = await client.Jobs.GetAsync(job.Id);
        }
        Assert.Equal(JobStatus.Running, running.Status);
        await server.KillHardAsync();

        await using var restarted = await ServerProcess.StartAsync(_home, port);
        var interruptedRun = await client.Runs.GetAsync(running.RunId!);
        Assert.Equal(RunStatus.Failed, interruptedRun.Status);
        Assert.Contains("server stopped", interruptedRun.FailureReason);

        var done = await client.Jobs.WaitAsync(job.Id).WaitAsync(TimeSpan.FromMinutes(3));
        Assert.True(done.Status == JobStatus.Succeeded, $"{done.Status}: {done.Error}");
        Assert.Equal(2, done.Attempts);
        Assert.NotEqual(running.RunId, done.Result!.RunId);
        Assert.Equal(new ModelVersionRef("crash-model", 1), done.Result.Model);
        Assert.Single((await client.Models.ListVersionsAsync("crash-model")).Items);
    }

    [Fact]
    public async Task Should_shut_down_cleanly_on_sigterm()
    {
        if (OperatingSystem.IsWindows()) return;
        // `stratus server` reads its settings from configuration: here the command line.
        var server = await ServerProcess.StartAsync(_home, command: "server");
        Assert.Equal(0, await server.TerminateAsync());
        Assert.Contains("Stratus is up", server.Output);
        await server.DisposeAsync();
    }

    /// <summary>Sends its first MiB, then blocks until released, like a client on a stalled network.</summary>
    private sealed class StallingStream(byte[] data) : Stream
    {
        private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _position;

        public TaskCompletionSource Stalled { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Release() => _release.TrySetResult();

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => data.Length;
        public override long Position { get => _position; set => throw new NotSupportedException(); }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_position >= 1 << 20)
            {
                Stalled.TrySetResult();
                await _release.Task.WaitAsync(cancellationToken);
            }
            var n = Math.Min(buffer.Length, data.Length - _position);
            data.AsMemory(_position, n).CopyTo(buffer);
            _position += n;
            return n;
        }

        public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
