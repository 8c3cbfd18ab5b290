using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Reflection;
using System.Text;

namespace Stratus.Cli.Tests;

/// <summary>Runs the real <c>stratus</c> command as a child process with its own STRATUS_HOME.</summary>
public static class Stratus
{
    public static string Dll { get; } = Path.GetFullPath(typeof(Stratus).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "StratusCli").Value!);

    public sealed record Result(int ExitCode, string Out, string Err);

    public static ProcessStartInfo StartInfo(string home, params string[] args)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(Dll);
        foreach (var a in args) info.ArgumentList.Add(a);
        info.Environment["STRATUS_HOME"] = home;
        info.WorkingDirectory = home;
        info.Environment.Remove("STRATUS_URL");
        info.Environment.Remove("STRATUS_TOKEN");
        info.Environment["NO_COLOR"] = "1";
        info.Environment["COLUMNS"] = "200";
        if (Testing.TestDatabase.IsPostgres)
        {
            // A server started in this home runs on its own PostgreSQL database; client commands ignore both.
            info.Environment["STRATUS_DATABASE"] = "postgres";
            info.Environment["STRATUS_CONNECTIONSTRING"] = Testing.TestDatabase.ForDataDirAsync(home).GetAwaiter().GetResult();
        }
        if (Testing.MotoServer.ForDataDirAsync(home).GetAwaiter().GetResult() is { } s3)
        {
            // Credentials as a deployment passes them: the standard AWS variables (this process set them for moto).
            (info.Environment["STRATUS_STORE"], info.Environment["STRATUS_S3ENDPOINT"]) = s3;
            foreach (var name in new[] { "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "AWS_EC2_METADATA_DISABLED" })
                info.Environment[name] = Environment.GetEnvironmentVariable(name);
        }
        return info;
    }

    public static Task<Result> RunAsync(string home, params string[] args) => RunAsync(home, null, args);

    /// <summary>Runs the command with <paramref name="input"/> on its standard input (none: an empty one).</summary>
    public static async Task<Result> RunAsync(string home, string? input, params string[] args)
    {
        var info = StartInfo(home, args);
        info.RedirectStandardInput = true;
        using var process = Process.Start(info)!;
        await process.StandardInput.WriteAsync(input ?? "");
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        return new Result(process.ExitCode, await stdout, await stderr);
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

/// <summary>A <c>stratus up</c> process on a free port.</summary>
public sealed class ServerProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private readonly string _scheme;

    private ServerProcess(Process process, string home, int port, bool https = false)
    {
        _process = process;
        Home = home;
        Port = port;
        _scheme = https ? "https" : "http";
        process.OutputDataReceived += (_, e) => { lock (_output) _output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { lock (_output) _output.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public string Home { get; }

    public int Port { get; }

    public string Url => $"{_scheme}://127.0.0.1:{Port}";

    /// <summary>The fingerprint of the certificate the server wrote in its <c>server.json</c> (<c>--tls</c>), or null.</summary>
    public static string? Fingerprint(string home)
    {
        try
        {
            return System.Text.Json.JsonSerializer.Deserialize<Dictionary<string, string>>(File.ReadAllText(Path.Combine(home, "server.json")))?.GetValueOrDefault("fingerprint");
        }
        catch (Exception ex) when (ex is IOException or System.Text.Json.JsonException)
        {
            return null;
        }
    }

    public int Pid => _process.Id;

    public string Output
    {
        get
        {
            lock (_output) return _output.ToString();
        }
    }

    /// <summary>
    /// The last <paramref name="most"/> lines of the warnings and errors the node logged, each entry whole: from its log
    /// file (<c>logs/stratus.log</c> under its data directory: a line per entry, <c>TIME LEVEL Category: message</c>,
    /// an exception's lines under it); the console only carries errors.
    /// </summary>
    public IEnumerable<string> Problems(int most = 60)
    {
        var file = Path.Combine(Home, "logs", "stratus.log");
        string[] lines;
        try
        {
            using var reader = new StreamReader(new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete));
            lines = reader.ReadToEnd().Split('\n');
        }
        catch (IOException)
        {
            lines = Output.Split('\n');
        }
        var kept = new List<string>();
        var inProblem = false;
        foreach (var line in lines)
        {
            var fields = line.Split(' ', 3);
            if (fields.Length == 3 && DateTimeOffset.TryParse(fields[0], System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.None, out _))
                inProblem = fields[1] is "warn" or "fail" or "crit";
            if (inProblem) kept.Add(line);
        }
        return kept.TakeLast(most);
    }

    public static Task<ServerProcess> StartAsync(string home, int? port = null, string command = "up", params string[] extra) =>
        StartAsync(home, port, command, null, extra);

    /// <summary>Starts <c>stratus up</c> or <c>stratus server</c> with <paramref name="environment"/> on top of the test's own settings.</summary>
    public static async Task<ServerProcess> StartAsync(string home, int? port, string command, IReadOnlyDictionary<string, string>? environment, params string[] extra)
    {
        var p = port ?? Stratus.FreePort();
        var portText = p.ToString(System.Globalization.CultureInfo.InvariantCulture);
        string[] args = command == "up"
            ? ["up", "--port", portText, .. extra]
            : ["server", "--data-dir", home];
        if (command != "up")
        {
            // `stratus server` takes its address from the appsettings.json of its working directory.
            await File.WriteAllTextAsync(Path.Combine(home, "appsettings.json"), $$"""{ "Stratus": { "Urls": "http://127.0.0.1:{{portText}}" } }""");
        }
        var info = Stratus.StartInfo(home, args);
        foreach (var (key, value) in environment ?? new Dictionary<string, string>()) info.Environment[key] = value;
        var server = new ServerProcess(Process.Start(info)!, home, p, extra.Contains("--tls"));
        // Over HTTPS, the certificate the server says it made is the one trusted (never any certificate).
        using var http = new HttpClient(new SocketsHttpHandler
        {
            SslOptions =
            {
                RemoteCertificateValidationCallback = (_, certificate, _, errors) => errors == System.Net.Security.SslPolicyErrors.None
                    || (certificate is not null && Fingerprint(home) is { } pinned
                        && Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(certificate.GetRawCertData())) == pinned.Replace(":", "", StringComparison.Ordinal)),
            },
        })
        { Timeout = TimeSpan.FromSeconds(2) };
        var deadline = DateTime.UtcNow.AddSeconds(90);
        while (DateTime.UtcNow < deadline)
        {
            if (server._process.HasExited) throw new InvalidOperationException($"stratus {command} exited with {server._process.ExitCode}:\n{server.Output}");
            try
            {
                if ((await http.GetAsync($"{server.Url}/health/ready")).IsSuccessStatusCode) return server;
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException)
            {
            }
            await Task.Delay(200);
        }
        await server.DisposeAsync();
        throw new TimeoutException($"stratus {command} did not become ready:\n{server.Output}");
    }

    /// <summary>
    /// Starts <c>stratus worker</c> in <paramref name="home"/> with <paramref name="environment"/>; returns once it says
    /// it is up (a worker has no HTTP port to poll).
    /// </summary>
    public static async Task<ServerProcess> StartWorkerAsync(string home, IReadOnlyDictionary<string, string> environment)
    {
        var info = Stratus.StartInfo(home, "worker", "--data-dir", home);
        foreach (var (key, value) in environment) info.Environment[key] = value;
        var worker = new ServerProcess(Process.Start(info)!, home, 0);
        var deadline = DateTime.UtcNow.AddSeconds(90);
        while (DateTime.UtcNow < deadline)
        {
            if (worker._process.HasExited) throw new InvalidOperationException($"stratus worker exited with {worker._process.ExitCode}:\n{worker.Output}");
            if (worker.Output.Contains("worker is up", StringComparison.Ordinal)) return worker;
            await Task.Delay(100);
        }
        await worker.DisposeAsync();
        throw new TimeoutException($"stratus worker did not start:\n{worker.Output}");
    }

    /// <summary>SIGKILL of this process alone: its children (job processes) find themselves orphaned.</summary>
    public async Task KillAloneAsync()
    {
        using (var kill = Process.Start("kill", ["-KILL", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync();
        }
        await _process.WaitForExitAsync();
    }

    /// <summary>SIGKILL: no shutdown code runs, as when the machine loses power or the OOM killer strikes.</summary>
    public async Task KillHardAsync()
    {
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
    }

    /// <summary>SIGTERM, as a service manager stops a service; returns the exit code.</summary>
    public async Task<int> TerminateAsync()
    {
        using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync();
        }
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await _process.WaitForExitAsync(timeout.Token);
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }
}
