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
    public async Task Should_resume_an_automl_search_after_kill_9_from_its_completed_trials_within_the_rest_of_the_budget()
    {
        var port = Stratus.FreePort();
        var server = await ServerProcess.StartAsync(_home, port);
        var client = StratusClient.Create(server.Url, (await File.ReadAllTextAsync(Path.Combine(_home, "admin.token"))).Trim());
        var random = new Random(4);
        var csv = new StringBuilder("a,b,shop,label\n");
        for (var i = 0; i < 500; i++)
        {
            var a = random.NextDouble() * 4 - 2;
            var b = random.NextDouble() * 4 - 2;
            csv.Append(System.Globalization.CultureInfo.InvariantCulture, $"{a:F3},{b:F3},{(random.Next(2) == 0 ? "web" : "store")},{(a * b + random.NextDouble() * 0.5 > 0.2 ? 1 : 0)}\n");
        }
        await client.Datasets.UploadAsync("crash-automl", new MemoryStream(Encoding.UTF8.GetBytes(csv.ToString())));
        var job = await client.Jobs.AutoMlAsync(new AutoMlRequest("crash-automl", "label", 30, Register: "crash-automl-model", Parallel: 1));

        // Killed once three trials are recorded (each a child run of the search).
        var trialsBefore = 0;
        for (var i = 0; i < 1200 && trialsBefore < 3; i++)
        {
            await Task.Delay(25);
            trialsBefore = (await client.Jobs.LogAsync(job.Id)).Count(l => l.Line.StartsWith("trial ", StringComparison.Ordinal));
        }
        Assert.True(trialsBefore >= 3, "three trials in time");
        var firstRun = (await client.Jobs.GetAsync(job.Id)).RunId!;
        await server.KillHardAsync();

        await using var restarted = await ServerProcess.StartAsync(_home, port);
        var done = await client.Jobs.WaitAsync(job.Id).WaitAsync(TimeSpan.FromMinutes(3));
        var log = (await client.Jobs.LogAsync(job.Id)).Select(l => l.Line).ToList();
        Assert.True(done.Status == JobStatus.Succeeded, $"{done.Status}: {done.Error}\n{string.Join('\n', log)}");
        Assert.Equal(2, done.Attempts);
        Assert.Equal(RunStatus.Failed, (await client.Runs.GetAsync(firstRun)).Status);

        // The second attempt goes on from what the first recorded: the same trials (its child runs), then new ones,
        // in what was left of the 30 s.
        var resuming = Assert.Single(log, l => l.StartsWith("resuming after a restart:", StringComparison.Ordinal));
        var resumedCount = int.Parse(resuming.Split(' ')[4], System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(resumedCount, trialsBefore, trialsBefore + 2);
        var secondsLeft = double.Parse(resuming.Split(", ")[1].Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(secondsLeft, 1, 29);
        var result = done.Result!;
        Assert.True(result.Trials > resumedCount, $"{result.Trials} trials, {resumedCount} before the restart");
        var runs = (await client.Runs.ListAsync("crash-automl", pageSize: 500)).Items;
        Assert.Equal(resumedCount, runs.Count(r => r.Tags.GetValueOrDefault("parent_run_id") == firstRun && r.Status != RunStatus.Running));
        Assert.Equal(result.Trials - resumedCount, runs.Count(r => r.Tags.GetValueOrDefault("parent_run_id") == result.RunId));
        Assert.Equal(new ModelVersionRef("crash-automl-model", 1), result.Model);
        Assert.Single((await client.Models.ListVersionsAsync("crash-automl-model")).Items);
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
