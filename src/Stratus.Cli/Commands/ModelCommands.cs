using System.CommandLine;
using System.Text.Json;
using Spectre.Console;
using static Stratus.Cli.GlobalOptions;

namespace Stratus.Cli.Commands;

/// <summary><c>stratus models …</c></summary>
internal static class ModelCommands
{
    public static Command Create()
    {
        var command = new Command("models", "The model registry: versions, aliases, lineage");

        var name = new Argument<string>("name") { Description = "Registered model name" };
        var run = new Option<string>("--run") { Description = "Run that logged the model artifact", Required = true };
        var artifact = new Option<string>("--artifact") { Description = "Artifact path within the run", Required = true };
        var description = new Option<string?>("--description") { Description = "What this version is" };
        var register = new Command("register", "Create a new model version from a run's artifact") { name, run, artifact, description };
        register.SetAction(Remote(async (result, client, ct) =>
        {
            var v = await client.Models.CreateVersionAsync(result.GetValue(name)!,
                new CreateModelVersionRequest(result.GetValue(run)!, result.GetValue(artifact)!, result.GetValue(description)), ct);
            Print(result, v, StratusJsonContext.Default.ModelVersionInfo, PrintVersion);
        }));
        command.Subcommands.Add(register);

        var onnxFile = new Argument<FileInfo>("file") { Description = "The ONNX model (.onnx), exported from PyTorch, scikit-learn, TensorFlow, ..." };
        var importName = new Option<string>("--name") { Description = "Registered model name", Required = true };
        var signature = new Option<FileInfo?>("--signature")
        {
            Description = "JSON: task, classes, inputs [{tensor, columns}], output, scores (probabilities or logits), target; what it leaves out is read off the model",
        };
        var import = new Command("import", "Import an ONNX model as a new version, served like a trained one; refused at once if it cannot be served") { onnxFile, importName, signature, description };
        import.SetAction(Remote(async (result, client, ct) =>
        {
            var path = result.GetValue(onnxFile)!;
            if (!path.Exists) throw new IOException($"file '{path.FullName}' does not exist");
            OnnxSignature? declared = null;
            if (result.GetValue(signature) is { } signatureFile)
            {
                if (!signatureFile.Exists) throw new IOException($"--signature: file '{signatureFile.FullName}' does not exist");
                try
                {
                    declared = JsonSerializer.Deserialize(await File.ReadAllTextAsync(signatureFile.FullName, ct), StratusJsonContext.Default.OnnxSignature);
                }
                catch (JsonException ex)
                {
                    throw new ArgumentException($"--signature: {signatureFile.Name} is not a valid signature: {ex.Message}");
                }
            }
            var v = await client.Models.ImportAsync(result.GetValue(importName)!, path.FullName, declared, result.GetValue(description), ct);
            Print(result, v, StratusJsonContext.Default.ModelVersionInfo, PrintVersion);
        }));
        command.Subcommands.Add(import);

        var pageToken = new Option<string?>("--page-token") { Description = "Token from the previous page" };
        var list = new Command("list", "List registered models") { pageToken };
        list.SetAction(Remote(async (result, client, ct) =>
            Print(result, await client.Models.ListAsync(null, result.GetValue(pageToken), ct), StratusJsonContext.Default.PageRegisteredModelInfo, p =>
            {
                var table = NewTable("Name", "Latest", "Aliases", "Created", "Description");
                foreach (var m in p.Items)
                    table.AddRow(Esc(m.Name), Esc(m.LatestVersion), Esc(string.Join(", ", m.Aliases.Select(a => $"{a.Key}->{a.Value}"))), When(m.CreatedAt), Esc(m.Description));
                AnsiConsole.Write(table);
                PageHint(p.NextPageToken);
            })));
        command.Subcommands.Add(list);

        var reference = new Argument<string>("model") { Description = "NAME (latest), NAME:VERSION or NAME@ALIAS" };
        var show = new Command("show", "Show a model version with its lineage") { reference };
        show.SetAction(Remote(async (result, client, ct) =>
            Print(result, await client.Models.ResolveAsync(result.GetValue(reference)!, ct), StratusJsonContext.Default.ModelVersionInfo, PrintVersion)));
        command.Subcommands.Add(show);

        var alias = new Argument<string>("alias") { Description = "Alias, e.g. champion" };
        var version = new Argument<int?>("version") { Description = "Version to point the alias at", Arity = ArgumentArity.ZeroOrOne };
        var delete = new Option<bool>("--delete") { Description = "Remove the alias instead" };
        var aliasCommand = new Command("alias", "Point an alias at a version (models alias NAME ALIAS VERSION), or remove it (--delete)") { name, alias, version, delete };
        aliasCommand.SetAction(Remote(async (result, client, ct) =>
        {
            var model = result.GetValue(name)!;
            var a = result.GetValue(alias)!;
            if (result.GetValue(delete))
            {
                await client.Models.DeleteAliasAsync(model, a, ct);
                Print(result, new Dictionary<string, string> { ["deleted"] = $"{model}@{a}" }, StratusJsonContext.Default.DictionaryStringString,
                    _ => AnsiConsole.MarkupLine($"Removed {Esc(model)}@{Esc(a)}"));
                return;
            }
            var v = result.GetValue(version) ?? throw new ArgumentException("give the version to point the alias at, or --delete");
            Print(result, await client.Models.SetAliasAsync(model, a, v, ct), StratusJsonContext.Default.ModelVersionInfo, PrintVersion);
        }));
        command.Subcommands.Add(aliasCommand);

        var rollback = new Command("rollback", "Point an alias back at the version it pointed to before (models rollback NAME ALIAS)") { name, alias };
        rollback.SetAction(Remote(async (result, client, ct) =>
            Print(result, await client.Models.RollBackAliasAsync(result.GetValue(name)!, result.GetValue(alias)!, ct), StratusJsonContext.Default.ModelVersionInfo, PrintVersion)));
        command.Subcommands.Add(rollback);
        return command;
    }

    private static void PrintVersion(ModelVersionInfo v)
    {
        AnsiConsole.MarkupLine($"[bold]{Esc(v.Name)}:{v.Version}[/] {(v.Aliases.Count > 0 ? "@" + Esc(string.Join(" @", v.Aliases)) : "")}  {Esc(v.Description)}");
        AnsiConsole.MarkupLine($"artifact {Esc(v.ArtifactPath)} ({v.SizeBytes:N0} bytes, sha256 {Esc(v.Sha256)})");
        var datasets = string.Join(", ", v.Lineage.Datasets.Select(d => $"{d.Dataset}:{d.Version}"));
        AnsiConsole.MarkupLine($"lineage: {Esc(datasets.Length == 0 ? "(no datasets recorded)" : datasets)} -> run {Esc(v.Lineage.RunId)} ({Esc(v.Lineage.ExperimentName ?? "another project's")}) -> {Esc(v.Name)}:{v.Version}");
    }
}
