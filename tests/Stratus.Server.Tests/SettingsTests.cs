using System.Globalization;
using System.Reflection;
using System.Text;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using Microsoft.Extensions.Configuration;
using Stratus.Server.Cluster;
using Stratus.Server.Hosting;
using Stratus.Server.Kernel;
using Stratus.Testing;

namespace Stratus.Server.Tests;

/// <summary>
/// Settings: one class per capability, all bound from flat names in the <c>Stratus</c> section; a node refuses to
/// start on a setting it cannot use, naming it and what it must be; <c>docs/settings.md</c> lists every one.
/// </summary>
public sealed partial class SettingsTests
{
    [Fact]
    public void Should_bind_each_flat_name_into_its_capabilitys_class_and_hand_a_job_process_the_same_settings()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Stratus:WorkerSlots"] = "3",
            ["Stratus:ReplicaTick"] = "00:00:00.250",
            ["Stratus:DataDir"] = "/srv/stratus",
            ["Stratus:Cluster"] = "prod",
            ["Stratus:MaxColumns"] = "500",
            ["Stratus:AuthFailureBurst"] = "7",
            ["Stratus:MonitorTick"] = "00:01:00",
            ["Stratus:RunReaperInterval"] = "00:00:05",
            ["Stratus:LogFormat"] = "json",
            ["Stratus:WebhookAllowPrivate"] = "true",
        }).Build();
        var options = StratusOptions.Read(configuration);
        Assert.Equal(3, options.Jobs.WorkerSlots);
        Assert.Equal(TimeSpan.FromMilliseconds(250), options.Serving.ReplicaTick);
        Assert.Equal("/srv/stratus", options.Storage.DataDir);
        Assert.Equal("prod", options.Cluster.Cluster);
        Assert.Equal(500, options.Data.MaxColumns);
        Assert.Equal(7, options.Security.AuthFailureBurst);
        Assert.Equal(TimeSpan.FromMinutes(1), options.Monitoring.MonitorTick);
        Assert.Equal(TimeSpan.FromSeconds(5), options.Tracking.RunReaperInterval);
        Assert.Equal("json", options.Host.LogFormat);
        Assert.True(options.Monitoring.WebhookAllowPrivate);

        // A job process reads its node's settings from the STRATUS_* variables it starts with: every value survives.
        var variables = options.Environment();
        var again = StratusOptions.Read(new ConfigurationBuilder().AddInMemoryCollection(
            variables.Select(v => new KeyValuePair<string, string?>("Stratus:" + v.Key["STRATUS_".Length..], v.Value))).Build());
        Assert.Equal(Values(options), Values(again));
    }

    [Fact]
    public void Should_give_every_setting_a_name_no_other_class_uses()
    {
        var names = Settings().GroupBy(s => s.Property.Name, StringComparer.OrdinalIgnoreCase).Where(g => g.Count() > 1).Select(g => g.Key);
        Assert.Empty(names);
    }

    [Fact]
    public void Should_refuse_to_start_naming_every_setting_out_of_range_whichever_class_holds_it()
    {
        var refused = Assert.Throws<StartupException>(() => StratusServer.Create([], o =>
        {
            o.Storage.DataDir = Path.Combine(Path.GetTempPath(), "stratus-never-started");
            o.Jobs.WorkerSlots = -1;
            o.Serving.ReplicaTick = TimeSpan.Zero;
            o.Data.MaxColumns = 0;
            o.Monitoring.MonitorTick = TimeSpan.FromSeconds(-5);
            o.Security.AuthFailureWindow = TimeSpan.Zero;
            o.Storage.S3PartBytes = 1024;
            o.Host.LogFormat = "xml";
            o.Cluster.SiloPort = 70_000;
        }));
        foreach (var name in new[] { "WorkerSlots is -1", "ReplicaTick", "MaxColumns is 0", "MonitorTick", "AuthFailureWindow", "S3PartBytes is 1024", "LogFormat is 'xml'", "SiloPort is 70000" })
            Assert.Contains("Stratus:" + name, refused.Message, StringComparison.Ordinal);
        Assert.Empty(new StratusOptions().Problems());
    }

    /// <summary>
    /// <c>docs/settings.md</c> is written from the settings classes' own documentation, so it lists every setting
    /// and its default; <c>STRATUS_UPDATE_DOCS=1</c> rewrites it.
    /// </summary>
    [Fact]
    public void Should_document_every_setting_with_its_default_in_docs_settings_md()
    {
        var docs = XDocument.Load(Path.Combine(AppContext.BaseDirectory, "Stratus.Server.xml"));
        string? Summary(string member) =>
            docs.Descendants("member").FirstOrDefault(m => (string?)m.Attribute("name") == member)?.Element("summary") is { } summary ? Text(summary) : null;
        var flags = StratusServer.Switches.ToDictionary(s => s.Value, s => s.Key, StringComparer.OrdinalIgnoreCase);

        var md = new StringBuilder();
        md.Append("# Settings\n\n");
        md.Append("Every setting of a node (`stratus server`, `stratus up`, `stratus worker`), written from the settings classes' own\n");
        md.Append("documentation by `SettingsTests` (`STRATUS_UPDATE_DOCS=1 scripts/test` rewrites this file). Each is read from, last\n");
        md.Append("wins: `appsettings.json` beside the binary, `appsettings.json` in the working directory, the environment variable,\n");
        md.Append("the command line (`--Stratus:Name=value`, or the flag shown). Times are written `hh:mm:ss` (`00:00:05`). A node\n");
        md.Append("refuses to start on any value out of range, naming the setting and what it must be.\n");
        var missing = new List<string>();
        foreach (var group in Settings().GroupBy(s => s.Part))
        {
            md.Append(CultureInfo.InvariantCulture, $"\n## {group.Key.Name.Replace("Settings", "", StringComparison.Ordinal)}\n\n");
            md.Append(CultureInfo.InvariantCulture, $"{Bound().Replace(Summary("T:" + group.Key.FullName)!, "")} (`{group.Key.FullName!.Replace("Stratus.Server.", "", StringComparison.Ordinal)}`)\n\n");
            md.Append("| Setting | Variable | Flag | What it is, and its default |\n|---|---|---|---|\n");
            foreach (var (_, property) in group)
            {
                var summary = Summary($"P:{group.Key.FullName}.{property.Name}");
                if (summary is null || !summary.Contains("Default:", StringComparison.Ordinal)) missing.Add(property.Name);
                var flag = flags.TryGetValue("Stratus:" + property.Name, out var f) ? $"`{f}`" : "";
                md.Append(CultureInfo.InvariantCulture, $"| `Stratus:{property.Name}` | `STRATUS_{property.Name.ToUpperInvariant()}` | {flag} | {summary?.Replace("|", "\\|", StringComparison.Ordinal)} |\n");
            }
        }
        Assert.True(missing.Count == 0, $"these settings document no default (a <summary> with 'Default:'): {string.Join(", ", missing)}");

        var checkedIn = Path.Combine(Repo.Root, "docs", "settings.md");
        if (Environment.GetEnvironmentVariable("STRATUS_UPDATE_DOCS") == "1") File.WriteAllText(checkedIn, md.ToString());
        Assert.True(File.Exists(checkedIn) && File.ReadAllText(checkedIn) == md.ToString(),
            "docs/settings.md is missing or out of date; run the tests with STRATUS_UPDATE_DOCS=1 and commit it");
    }

    private static IEnumerable<(Type Part, PropertyInfo Property)> Settings() =>
        new StratusOptions().Parts.SelectMany(p => p.GetType().GetProperties().Where(q => q.CanWrite).Select(q => (p.GetType(), q)));

    private static List<string> Values(StratusOptions options) =>
        options.Parts.SelectMany(p => p.GetType().GetProperties().Where(q => q.CanWrite).Select(q => $"{q.Name}={q.GetValue(p)}")).ToList();

    /// <summary>A doc comment as Markdown: code in backticks, references by their last name, one line.</summary>
    private static string Text(XElement element)
    {
        var text = new StringBuilder();
        foreach (var node in element.Nodes())
        {
            text.Append(node switch
            {
                XText t => t.Value,
                XElement { Name.LocalName: "c" } c => $"`{c.Value}`",
                XElement { Name.LocalName: "see" or "paramref" or "typeparamref" } r =>
                    $"`{((string?)r.Attribute("cref") ?? (string?)r.Attribute("name") ?? r.Value).Split(':')[^1].Split('.')[^1]}`",
                XElement e => Text(e),
                _ => "",
            });
        }
        return Spaces().Replace(text.ToString(), " ").Trim();
    }

    [GeneratedRegex(@"\s*\(bound from the `Stratus` section[^)]*\)")]
    private static partial Regex Bound();

    [GeneratedRegex(@"\s+")]
    private static partial Regex Spaces();

    [Fact]
    public void Should_refuse_a_cluster_without_postgres_a_bad_name_or_address_and_too_short_periods()
    {
        Assert.Empty(new ClusterSettings().Problems("sqlite"));
        Assert.Empty(new ClusterSettings { Cluster = "prod-1", AdvertiseAddress = "10.0.0.11" }.Problems("postgres"));

        var sqlite = Assert.Single(new ClusterSettings { Cluster = "prod" }.Problems("sqlite"));
        Assert.Contains("Stratus:Database is 'sqlite'", sqlite, StringComparison.Ordinal);
        Assert.Contains("--database postgres", sqlite, StringComparison.Ordinal);

        var problems = new ClusterSettings
        {
            Cluster = "my cluster", AdvertiseAddress = "node-1.internal", ReminderPeriod = TimeSpan.FromMilliseconds(100),
            NodeReportInterval = TimeSpan.Zero, ProbeTimeout = TimeSpan.FromSeconds(-1),
        }.Problems("postgres");
        Assert.Equal(5, problems.Count);
        Assert.Contains(problems, p => p.StartsWith("Stratus:Cluster is 'my cluster'", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("Stratus:AdvertiseAddress is 'node-1.internal'; it must be an IP address", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("Stratus:ReminderPeriod", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("Stratus:NodeReportInterval", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("Stratus:ProbeTimeout", StringComparison.Ordinal));
    }
}
