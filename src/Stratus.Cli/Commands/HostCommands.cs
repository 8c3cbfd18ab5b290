using System.CommandLine;
using Spectre.Console;
using Stratus.Server.Hosting;
using Stratus.Server.Security;

namespace Stratus.Cli.Commands;

/// <summary><c>stratus up</c> and <c>stratus server</c>: host the whole platform in this process.</summary>
internal static class HostCommands
{
    public static Command Up()
    {
        var dataDir = new Option<string?>("--data-dir") { Description = "Data directory (default: STRATUS_HOME or ~/.stratus)" };
        var port = new Option<int>("--port") { Description = "Port to listen on", DefaultValueFactory = _ => 5080 };
        var host = new Option<string>("--host") { Description = "Address to bind; anything but loopback also needs --allowed-hosts", DefaultValueFactory = _ => "127.0.0.1" };
        var allowedHosts = new Option<string?>("--allowed-hosts") { Description = "Host names to answer to, ';'-separated (default: localhost;127.0.0.1;[::1])" };
        var demo = new Option<bool>("--demo") { Description = "Load a card-fraud dataset, train, register and deploy a model, and print a curl command to try it" };
        var tls = new Option<bool>("--tls") { Description = "Serve HTTPS with a self-signed certificate made on first start (in DATA_DIR/tls); its fingerprint is printed for clients to pin" };
        var command = new Command("up", "Run the whole platform on this machine: API, Orleans silo, SQLite, local storage") { dataDir, port, host, allowedHosts, demo, tls };
        command.SetAction((result, ct) => RunAsync([], result.GetValue(demo), o =>
        {
            if (result.GetValue(dataDir) is { } d) o.Storage.DataDir = d;
            var h = result.GetValue(host)!;
            o.Host.Tls = result.GetValue(tls);
            o.Host.Urls = $"{(o.Host.Tls ? "https" : "http")}://{(h.Contains(':', StringComparison.Ordinal) ? $"[{h}]" : h)}:{result.GetValue(port)}";
            if (result.GetValue(allowedHosts) is { } a) o.Host.AllowedHosts = a;
        }, ct));
        return command;
    }

    public static Command Server()
    {
        var settings = new Argument<string[]>("settings")
        {
            Description = "Configuration overrides such as --Stratus:DataDir=/srv/stratus (also from appsettings.json and STRATUS_* variables)",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var command = new Command("server", "Run the platform from configuration (appsettings.json, STRATUS_* environment variables, --data-dir, --urls)") { settings };
        command.TreatUnmatchedTokensAsErrors = false;
        command.SetAction((result, ct) => RunAsync([.. result.GetValue(settings) ?? [], .. result.UnmatchedTokens], demo: false, null, ct));
        return command;
    }

    public static Command Worker()
    {
        var settings = new Argument<string[]>("settings")
        {
            Description = "Configuration overrides: --database postgres --connection-string ... --store s3://... --data-dir DIR (also appsettings.json and STRATUS_* variables)",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var command = new Command("worker", "Run jobs (training, AutoML, batch scoring) for the servers sharing its database and store; serves no HTTP API") { settings };
        command.TreatUnmatchedTokensAsErrors = false;
        command.SetAction(async (result, ct) =>
        {
            IHost host;
            try
            {
                host = WorkerHost.Create([.. result.GetValue(settings) ?? [], .. result.UnmatchedTokens]);
            }
            catch (Exception ex) when (ex is InvalidOperationException or IOException or UnauthorizedAccessException or FormatException or Stratus.Server.Kernel.StartupException)
            {
                return GlobalOptions.Fail(ex.Message);
            }
            using (host)
            {
                try
                {
                    await WorkerHost.StartWorkerAsync(host, ct);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    return GlobalOptions.Fail($"cannot start: {ex.Message}");
                }
                var options = host.Services.GetRequiredService<StratusOptions>();
                AnsiConsole.MarkupLine($"[green]Stratus worker is up[/]: {options.Jobs.WorkerSlots} slots (data: {Markup.Escape(options.Storage.DataDir)}). Stop with Ctrl-C.");
                await host.WaitForShutdownAsync(CancellationToken.None);
            }
            return 0;
        });
        return command;
    }

    /// <summary><c>stratus nodes</c>: the servers and workers of the deployment, as the console's nodes page shows them.</summary>
    public static Command Nodes()
    {
        var command = new Command("nodes", "List the servers and workers: role, status, address, jobs running, endpoints loaded, CPU and memory");
        command.SetAction(GlobalOptions.Remote(async (result, client, ct) =>
            GlobalOptions.Print(result, await client.NodesAsync(ct), StratusJsonContext.Default.IReadOnlyListNodeInfo, nodes =>
            {
                var table = GlobalOptions.NewTable("Node", "Role", "Status", "Address", "Jobs", "Endpoints", "CPU", "Memory", "Seen");
                foreach (var n in nodes)
                {
                    var status = n.Status switch { "up" => "[green]up[/]", "lost" => "[red]lost[/]", _ => "[grey]stopped[/]" };
                    table.AddRow(Markup.Escape(n.Id), n.Role, status, Markup.Escape(n.Url ?? n.Silo ?? ""), $"{n.JobsRunning}/{n.Slots}", $"{n.EndpointsLoaded}",
                        $"{n.CpuPercent:F0}%", $"{n.MemoryBytes / (1024.0 * 1024):F0} MiB", GlobalOptions.When(n.SeenAt));
                }
                AnsiConsole.Write(table);
            })));
        return command;
    }

    /// <summary>The process one job runs in, started by a node's job runner (hidden: never typed by a person).</summary>
    public static Command JobProcess()
    {
        var job = new Argument<string>("job");
        var epoch = new Argument<int>("epoch");
        var slots = new Argument<int>("slots");
        var parent = new Argument<int>("parent");
        var command = new Command(Stratus.Server.Jobs.JobProcess.Command, "Run one claimed job (started by a Stratus node)") { job, epoch, slots, parent };
        command.Hidden = true;
        command.SetAction((result, _) => JobProcessHost.RunAsync(result.GetValue(job)!, result.GetValue(epoch), result.GetValue(slots), result.GetValue(parent)));
        return command;
    }

    private static async Task<int> RunAsync(string[] args, bool demo, Action<StratusOptions>? configure, CancellationToken ct)
    {
        WebApplication app;
        try
        {
            app = StratusServer.Create(args, configure);
        }
        catch (Exception ex) when (ex is InvalidOperationException or IOException or UnauthorizedAccessException or FormatException or Stratus.Server.Kernel.StartupException)
        {
            return GlobalOptions.Fail(ex.Message);
        }
        await using (app)
        {
            IReadOnlyList<string> urls;
            try
            {
                urls = await app.StartStratusAsync(ct);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // A port in use, an unreadable data directory, a database that cannot be migrated: one line, not a trace.
                return GlobalOptions.Fail($"cannot start: {ex.Message}");
            }
            var options = app.Services.GetRequiredService<StratusOptions>();
            AnsiConsole.MarkupLine($"[green]Stratus is up[/] at [bold]{Markup.Escape(string.Join(", ", urls))}[/]  (data: {Markup.Escape(options.Storage.DataDir)})");
            AnsiConsole.MarkupLine($"Web console: {Markup.Escape(urls.Count > 0 ? urls[0] : "")}/   API reference: {Markup.Escape(urls.Count > 0 ? urls[0] : "")}/docs/v1   Stop with Ctrl-C.");
            var certificate = app.Services.GetService<System.Security.Cryptography.X509Certificates.X509Certificate2>();
            var fingerprint = certificate is null ? null : ServerCertificate.Fingerprint(certificate);
            if (fingerprint is not null)
            {
                // What a person compares in the browser, and what clients elsewhere pin (never a secret): plain lines,
                // never wrapped, so that they copy whole.
                Console.WriteLine($"TLS certificate SHA-256 fingerprint: {fingerprint}");
                if (options.Host.Tls && string.IsNullOrEmpty(options.Host.HttpsCertificate))
                    Console.WriteLine($"  self-signed, in {ServerCertificate.GeneratedPaths(options.Storage.DataDir).Pem}; elsewhere: stratus login --url URL --fingerprint {fingerprint}");
            }
            if (demo)
            {
                try
                {
                    await Demo.RunAsync(urls[0], options.Storage.DataDir, fingerprint, app.Lifetime.ApplicationStopping);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    // The platform stays up; only the demo failed.
                    GlobalOptions.Fail($"the demo could not finish: {ex.Message}");
                }
            }
            await app.WaitForShutdownAsync(CancellationToken.None);
        }
        return 0;
    }
}
