using System.Net.Http.Headers;
using Microsoft.AspNetCore.Builder;
using Stratus.Client;
using Stratus.Server.Hosting;

namespace Stratus.Testing;

/// <summary>A real Stratus server in this process, on a free loopback port, with its own data directory.</summary>
public sealed class TestServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly bool _ownsDataDir;

    private readonly string? _database;

    private TestServer(WebApplication app, string dataDir, string url, bool ownsDataDir, string? database)
    {
        _app = app;
        _database = database;
        DataDir = dataDir;
        Url = url;
        _ownsDataDir = ownsDataDir;
        var token = Path.Combine(dataDir, "admin.token");
        AdminToken = File.Exists(token) ? File.ReadAllText(token).Trim() : "";
    }

    /// <summary>The stratus command this test project was built with: every job runs in a process of it.</summary>
    public static string JobHost { get; } = Path.GetFullPath(typeof(TestServer).Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyMetadataAttribute), false)
        .Cast<System.Reflection.AssemblyMetadataAttribute>().Single(a => a.Key == "StratusCli").Value!);

    public string DataDir { get; }

    public string Url { get; }

    /// <summary>The admin token the first start made; empty on a node that joined a database another node had made one in.</summary>
    public string AdminToken { get; }

    public IServiceProvider Services => _app.Services;

    public static async Task<TestServer> StartAsync(Action<StratusOptions>? configure = null, string? dataDir = null)
    {
        var owns = dataDir is null;
        dataDir ??= Directory.CreateTempSubdirectory("stratus-test-").FullName;
        var database = await TestDatabase.ForDataDirAsync(dataDir);
        var store = await MotoServer.ForDataDirAsync(dataDir);
        var app = StratusServer.Create([], o =>
        {
            o.Storage.DataDir = dataDir;
            if (database is not null)
            {
                o.Storage.Database = "postgres";
                o.Storage.ConnectionString = database;
            }
            if (store is { } s3) (o.Storage.Store, o.Storage.S3Endpoint) = s3;
            o.Host.Urls = "http://127.0.0.1:0";
            o.Jobs.JobHost = JobHost;
            o.Security.PrintAdminToken = false;
            o.Storage.GcGracePeriod = TimeSpan.Zero;
            // Every test of a shared server comes from 127.0.0.1, and some fail to authenticate on purpose; the
            // limiter's own test sets its burst.
            o.Security.AuthFailureBurst = 10_000;
            configure?.Invoke(o);
        });
        var urls = await app.StartStratusAsync();
        return new TestServer(app, dataDir, urls[0], owns, database);
    }

    /// <summary>A client with <paramref name="token"/> (default: the admin's), working in <paramref name="project"/> (default: the token's, or <c>default</c>).</summary>
    public StratusClient Client(string? token = null, string? project = null) => new(Http(token ?? AdminToken, project));

    public HttpClient Http(string? token = null, string? project = null)
    {
        var http = new HttpClient { BaseAddress = new Uri(Url + "/") };
        if (token is not null) http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        if (project is not null) http.DefaultRequestHeaders.Add(Projects.Header, project);
        return http;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        if (_ownsDataDir)
        {
            TryDelete(DataDir);
            await TestDatabase.DropAsync(_database);
        }
    }

    public static void TryDelete(string dir)
    {
        try
        {
            Directory.Delete(dir, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a temp directory left behind does no harm.
        }
    }
}

/// <summary>One server shared by the tests of a class that do not need isolation.</summary>
public sealed class SharedServer : IAsyncLifetime
{
    public TestServer Server { get; private set; } = null!;

    public async ValueTask InitializeAsync() => Server = await TestServer.StartAsync(o => o.Tracking.RunReaperInterval = TimeSpan.FromMilliseconds(500));

    public ValueTask DisposeAsync() => Server.DisposeAsync();
}
