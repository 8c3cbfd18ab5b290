using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Amazon.Runtime;
using Amazon.S3;

namespace Stratus.Testing;

/// <summary>
/// A real S3 API server on loopback for the tests: <c>moto_server</c> (a Python package these machines ship), one per
/// test process, stopped when it exits. Every store gets a bucket of its own. The AWS SDK finds its credentials in
/// this process's environment, as a deployment's would; the instance-metadata lookup is off, so that nothing leaves
/// loopback.
/// </summary>
public sealed class MotoServer
{
    public static readonly Lazy<Task<MotoServer>> Shared = new(StartAsync);

    private static int _buckets;

    private MotoServer(int port) => Endpoint = $"http://127.0.0.1:{port}";

    public string Endpoint { get; }

    /// <summary>Whether the suites run on the S3 store (<c>STRATUS_TEST_STORE=s3</c>, with PostgreSQL in the test script).</summary>
    public static bool IsDefault { get; } = string.Equals(Environment.GetEnvironmentVariable("STRATUS_TEST_STORE"), "s3", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// The S3 store of a data directory when the suites run on S3 (<see cref="IsDefault"/>), made on first use (null
    /// otherwise: the server keeps its blobs in the data directory): a server started again on it finds the same bucket.
    /// </summary>
    public static async Task<(string Store, string Endpoint)?> ForDataDirAsync(string dataDir)
    {
        if (!IsDefault) return null;
        var moto = await Shared.Value;
        var file = Path.Combine(dataDir, "test-store");
        if (!File.Exists(file)) await File.WriteAllTextAsync(file, await moto.CreateBucketAsync());
        return (await File.ReadAllTextAsync(file), moto.Endpoint);
    }

    /// <summary>A new, empty bucket: its <c>s3://</c> address with a prefix, as a server's <c>Store</c> setting takes it.</summary>
    public async Task<string> CreateBucketAsync()
    {
        var name = $"stratus-{Environment.ProcessId}-{Interlocked.Increment(ref _buckets)}";
        using var s3 = Client();
        await s3.PutBucketAsync(name);
        return $"s3://{name}/blobs";
    }

    /// <summary>A client of this server, for tests that reach behind the store (a corrupted object, an unfinished upload).</summary>
    public AmazonS3Client Client() => new(new AmazonS3Config
    {
        ServiceURL = Endpoint,
        ForcePathStyle = true,
        AuthenticationRegion = "us-east-1",
        RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
        ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
    });

    /// <summary>A client of this server's key service (moto answers KMS's API on the same port), for tests that make keys.</summary>
    public Amazon.KeyManagementService.AmazonKeyManagementServiceClient KmsClient() =>
        new(new Amazon.KeyManagementService.AmazonKeyManagementServiceConfig { ServiceURL = Endpoint, AuthenticationRegion = "us-east-1" });

    private static async Task<MotoServer> StartAsync()
    {
        Environment.SetEnvironmentVariable("AWS_ACCESS_KEY_ID", "stratus-test");
        Environment.SetEnvironmentVariable("AWS_SECRET_ACCESS_KEY", "stratus-test-secret");
        Environment.SetEnvironmentVariable("AWS_REGION", "us-east-1");
        Environment.SetEnvironmentVariable("AWS_EC2_METADATA_DISABLED", "true");
        int port;
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((IPEndPoint)probe.LocalEndpoint).Port;
        }
        var info = new ProcessStartInfo("moto_server") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "-H", "127.0.0.1", "-p", port.ToString(System.Globalization.CultureInfo.InvariantCulture) }) info.ArgumentList.Add(a);
        Process process;
        try
        {
            process = Process.Start(info)!;
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new InvalidOperationException("the S3 tests need moto_server on PATH (the Python package moto, with its server extra)", ex);
        }
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try
            {
                process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
                // already gone
            }
        };
        var deadline = DateTime.UtcNow.AddSeconds(30);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        while (true)
        {
            if (process.HasExited) throw new InvalidOperationException($"moto_server exited with {process.ExitCode}");
            try
            {
                await http.GetAsync($"http://127.0.0.1:{port}/moto-api/");
                return new MotoServer(port);
            }
            catch (HttpRequestException) when (DateTime.UtcNow < deadline)
            {
            }
            catch (TaskCanceledException) when (DateTime.UtcNow < deadline)
            {
            }
            await Task.Delay(200);
        }
    }
}
