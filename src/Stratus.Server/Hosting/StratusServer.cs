using Microsoft.Extensions.Diagnostics.HealthChecks;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Scalar.AspNetCore;
using Stratus.Ml.Data;
using Stratus.Ml.Training.Gbm;
using Stratus.Server.Cluster;
using Stratus.Server.Datasets;
using Stratus.Server.Kernel;
using Stratus.Server.Jobs;
using Stratus.Server.Monitoring;
using Stratus.Server.WebConsole;
using Stratus.Server.Registry;
using Stratus.Server.Security;
using Stratus.Server.Serving;
using Stratus.Server.Storage;
using Stratus.Server.Tracking;

namespace Stratus.Server.Hosting;

/// <summary>Builds and runs a Stratus server: the table of contents of the process.</summary>
public static partial class StratusServer
{
    /// <summary>
    /// Creates the application from command-line arguments and configuration (appsettings.json, <c>STRATUS_*</c>
    /// environment variables, <c>--data-dir</c>, <c>--urls</c>), then applies <paramref name="configure"/> on top.
    /// </summary>
    public static WebApplication Create(string[] args, Action<StratusOptions>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = [], ContentRootPath = AppContext.BaseDirectory });
        // The console's scripts and styles (Blazor's, MudBlazor's) as the build lists them, in any environment.
        builder.WebHost.UseStaticWebAssets();
        AddConfiguration(builder.Configuration, args);
        builder.AddStratusServer(configure);
        var app = builder.Build();
        app.MapStratusApis();
        return app;
    }

    /// <summary>The command-line flags that name a setting (besides <c>--Stratus:Name=value</c>, which names any).</summary>
    internal static readonly Dictionary<string, string> Switches = new()
    {
        ["--data-dir"] = "Stratus:DataDir",
        ["--urls"] = "Stratus:Urls",
        ["--allowed-hosts"] = "Stratus:AllowedHosts",
        ["--database"] = "Stratus:Database",
        ["--connection-string"] = "Stratus:ConnectionString",
        ["--store"] = "Stratus:Store",
        ["--s3-endpoint"] = "Stratus:S3Endpoint",
        ["--log-format"] = "Stratus:LogFormat",
        ["--https-certificate"] = "Stratus:HttpsCertificate",
        ["--https-certificate-key"] = "Stratus:HttpsCertificateKey",
        ["--cluster"] = "Stratus:Cluster",
        ["--advertise-address"] = "Stratus:AdvertiseAddress",
    };

    /// <summary>
    /// The configuration every Stratus node reads (servers and workers): appsettings.json beside the binary, then one in
    /// the working directory, <c>STRATUS_*</c> environment variables, and the command line.
    /// </summary>
    internal static void AddConfiguration(IConfigurationManager configuration, string[] args)
    {
        // An appsettings.json in the working directory overrides the one shipped beside the binary; environment and command line override both.
        var lastJson = configuration.Sources.ToList().FindLastIndex(s => s is Microsoft.Extensions.Configuration.Json.JsonConfigurationSource);
        var local = new Microsoft.Extensions.Configuration.Json.JsonConfigurationSource
        {
            Path = "appsettings.json",
            Optional = true,
            FileProvider = new Microsoft.Extensions.FileProviders.PhysicalFileProvider(Environment.CurrentDirectory),
        };
        configuration.Sources.Insert(lastJson + 1, local);
        configuration.AddInMemoryCollection(StratusEnvironment());
        configuration.AddCommandLine(args, Switches);
    }

    /// <summary>Registers every Stratus service: storage, metadata, security, the Orleans silo and the APIs' dependencies.</summary>
    public static void AddStratusServer(this WebApplicationBuilder builder, Action<StratusOptions>? configure = null)
    {
        var options = StratusOptions.Read(builder.Configuration);
        configure?.Invoke(options);
        options.Checked().Register(builder.Services);
        var host = options.Host;
        PrivateFiles.Apply(options.Storage.DataDir);
        // Before any upload, training or model load. LightGBM's count is fixed once per process (see LightGbmThreads):
        // a second server in the same process (tests) keeps the first one's; the data limits are the latest server's.
        DataLimits.Current = options.Data.ToDataLimits();
        LightGbmThreads.Configure(options.Jobs.Threads);
        NodeLogging.Configure(builder.Logging, host.LogFormat, options.Storage.DataDir);
        // Quiet by default: per-query and per-request lines drown what an operator needs. Configuration can raise them.
        builder.Logging.AddFilter("Microsoft.EntityFrameworkCore", LogLevel.Warning);
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        builder.Logging.AddFilter("Orleans", LogLevel.Warning);
        builder.Logging.AddFilter("Microsoft.Orleans", LogLevel.Warning);
        builder.Logging.AddFilter("Orleans.Runtime.Silo", LogLevel.Error); // the ServerGC advice does not apply to an embedded silo
        builder.Logging.AddFilter("Polly", LogLevel.Warning);

        builder.WebHost.UseUrls(host.Urls);
        // The https:// URLs' certificate: the operator's, or one made on first start (Tls).
        var certificate = ServerCertificate.Load(host, options.Storage.DataDir);
        if (certificate is not null) builder.Services.AddSingleton(certificate);
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Limits.MaxRequestBodySize = host.MaxJsonBodyBytes;
            k.AddServerHeader = false;
            if (certificate is not null) k.ConfigureHttpsDefaults(h => h.ServerCertificate = certificate);
        });
        builder.Services.AddHostFiltering(h => h.AllowedHosts = host.AllowedHosts.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddMemoryCache();
        builder.Services.ConfigureHttpJsonOptions(j => ConfigureJson(j.SerializerOptions));
        builder.Services.AddProblemDetails();
        // Binding failures (malformed JSON, a string where a number belongs) reach the exception handler, which names the field.
        builder.Services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        builder.Services.AddExceptionHandler<ProblemExceptionHandler>();
        builder.Services.AddOpenApi("v1", o => o.AddDocumentTransformer<BearerSecurityTransformer>());
        builder.AddStratusTelemetry(host);

        // One wiring method per capability; each capability's services take its own settings class.
        builder.Services.AddStratusStorage(options.Storage, collectGarbage: true);
        builder.Services.AddStratusSecurity(options.Storage.DataDir);
        builder.Services.AddStratusConsole();
        builder.Services.AddStratusDatasets();
        builder.Services.AddStratusTracking();
        builder.Services.AddStratusRegistry();
        builder.Services.AddStratusJobs(submissions: true);
        builder.Services.AddStratusServing(options.Cluster.Clustered);
        builder.Services.AddStratusMonitoring();
        // One Orleans silo in the process: on its own, or one of a cluster; then what wakes its grains.
        builder.AddStratusCluster(options.Cluster, options.Storage);
        builder.Services.AddHostedService<GrainStarter>(); // after the silo's own: it calls grains
    }

    /// <summary>Maps every route; <c>Program.cs</c> of any host reads as <c>AddStratusServer(); MapStratusApis();</c>.</summary>
    public static void MapStratusApis(this WebApplication app)
    {
        var data = app.Services.GetRequiredService<DataSettings>();
        app.UseHostFiltering();
        app.UseMiddleware<AuditMiddleware>();
        app.UseMiddleware<BrowserGuardMiddleware>();
        app.UseMiddleware<AuthFailureLimiter>();
        app.UseExceptionHandler();
        app.UseMiddleware<PredictFastPath>();
        app.UseRouting();
        app.Use(AuditMiddleware.NoteRoute);
        app.UseAuthentication();
        app.UseMiddleware<ProjectMiddleware>();
        app.UseAuthorization();
        app.UseMiddleware<BodyGuardMiddleware>();
        app.UseAntiforgery();

        app.MapHealthChecks("/health/live", new() { Predicate = _ => false }).AllowAnonymous();
        app.MapHealthChecks("/health/ready", new() { Predicate = c => c.Tags.Contains("ready"), ResponseWriter = WriteReadinessAsync }).AllowAnonymous();
        app.MapOpenApi();
        app.MapScalarApiReference("/docs", s => s.WithTitle("Stratus API"));

        app.MapDatasetsApi(data.MaxUploadBytes);
        app.MapTrackingApi(data.MaxUploadBytes);
        app.MapRegistryApi(data.MaxUploadBytes);
        app.MapJobsApi();
        app.MapEndpointsApi();
        app.MapMonitoringApi();
        app.MapSecurityApi();
        app.MapNodesApi();
        app.MapConsole();
    }

    /// <summary>
    /// Prepares the data directory (removes scratch files of a crashed process, applies migrations, creates the admin
    /// token on first start), starts the server, and writes <c>server.json</c> so that a local CLI finds it.
    /// </summary>
    public static async Task<IReadOnlyList<string>> StartStratusAsync(this WebApplication app, CancellationToken ct = default)
    {
        var options = app.Services.GetRequiredService<StratusOptions>();
        var dataDir = options.Storage.DataDir;
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Stratus");
        EnsurePortsFree(options.Host.Urls);
        var jobHost = options.Jobs.HostProgram;
        if (!File.Exists(jobHost))
            throw new StartupException($"the job host {jobHost} does not exist: set Stratus:JobHost (STRATUS_JOBHOST) to the stratus command (stratus.dll or its executable)");
        var cleaned = app.Services.GetRequiredService<IBlobStore>().CleanTemp();
        if (cleaned > 0) LogCleaned(logger, cleaned);

        string? adminToken;
        await using (var scope = app.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<StratusDb>();
            await MetadataDatabase.PrepareAsync(db, options.Storage, ct);
            await app.Services.OpenEncryptionAsync(db, ct);
            adminToken = await scope.ServiceProvider.GetRequiredService<TokenService>().BootstrapAdminAsync(dataDir, ct);
            await app.Services.GetRequiredService<JobDispatcher>().RecoverAsync(ct);
        }

        await app.StartAsync(ct);
        var urls = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.ToList() ?? [];
        var info = new Dictionary<string, string> { ["url"] = urls.FirstOrDefault() ?? options.Host.Urls };
        // What a local CLI pins a certificate no authority vouches for by.
        if (app.Services.GetService<X509Certificate2>() is { } certificate) info["fingerprint"] = ServerCertificate.Fingerprint(certificate);
        SecretFile.Write(Path.Combine(dataDir, "server.json"), JsonSerializer.Serialize(info, StratusJsonContext.Default.DictionaryStringString));
        if (adminToken is not null && options.Security.PrintAdminToken)
        {
            // Where it is, never what it is: standard output ends up in journals, log files and CI logs.
            var file = Path.Combine(dataDir, "admin.token");
            Console.WriteLine($"Created the admin token in {file} (readable by this user only); the CLI on this machine uses it by itself.");
            Console.WriteLine($"  To sign in elsewhere: stratus login --url URL < {file}");
        }
        return urls;
    }

    /// <summary>Readiness as a load balancer reads it (the status code) and an operator does (which dependency, and why).</summary>
    private static async Task WriteReadinessAsync(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "application/json";
        await using var json = new Utf8JsonWriter(context.Response.Body);
        json.WriteStartObject();
        json.WriteString("status", report.Status.ToString());
        json.WriteStartObject("checks");
        foreach (var (name, entry) in report.Entries)
        {
            json.WriteStartObject(name);
            json.WriteString("status", entry.Status.ToString());
            if (entry.Description is { } description) json.WriteString("description", description);
            json.WriteEndObject();
        }
        json.WriteEndObject();
        json.WriteEndObject();
    }

    internal static void ConfigureJson(JsonSerializerOptions json)
    {
        json.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
        json.DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull;
        json.RespectNullableAnnotations = true;
        json.TypeInfoResolverChain.Insert(0, StratusJsonContext.Default);
    }

    internal static Dictionary<string, string?> StratusEnvironment()
    {
        // STRATUS_DATADIR=/x becomes Stratus:DataDir (keys are case-insensitive); STRATUS_HOME is read by StratusOptions itself.
        var values = new Dictionary<string, string?>();
        foreach (System.Collections.DictionaryEntry e in Environment.GetEnvironmentVariables())
        {
            if (e.Key is string key && key.StartsWith("STRATUS_", StringComparison.Ordinal) && key != "STRATUS_HOME")
                values["Stratus:" + key["STRATUS_".Length..].Replace("__", ":", StringComparison.Ordinal)] = e.Value as string;
        }
        return values;
    }

    /// <summary>Fails fast, in one sentence, when the HTTP port is taken, before the silo and the database start.</summary>
    private static void EnsurePortsFree(string urls)
    {
        foreach (var url in urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!Uri.TryCreate(url.Replace("://*", "://0.0.0.0", StringComparison.Ordinal).Replace("://+", "://0.0.0.0", StringComparison.Ordinal), UriKind.Absolute, out var uri) || uri.Port == 0) continue;
            var address = uri.Host == "localhost" ? IPAddress.Loopback : IPAddress.TryParse(uri.Host.Trim('[', ']'), out var a) ? a : null;
            if (address is null) continue;
            try
            {
                using var listener = new TcpListener(address, uri.Port);
                listener.Start();
            }
            catch (SocketException ex) when (ex.SocketErrorCode == SocketError.AddressAlreadyInUse)
            {
                throw new IOException($"{url} is already in use (is another Stratus running?); pick another port");
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Removed {Count} scratch files left by an earlier process")]
    private static partial void LogCleaned(ILogger logger, int count);
}
