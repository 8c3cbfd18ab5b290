using System.CommandLine;
using Spectre.Console;
using static Stratus.Cli.GlobalOptions;

namespace Stratus.Cli.Commands;

/// <summary><c>stratus tokens …</c> and <c>stratus audit</c> (admin).</summary>
internal static class SecurityCommands
{
    public static Command Tokens()
    {
        var command = new Command("tokens", "Create, list and revoke API tokens (admin)");

        var name = new Argument<string>("name") { Description = "Who or what the token is for" };
        var role = new Option<string>("--role") { Description = "viewer, editor or admin", DefaultValueFactory = _ => Roles.Viewer };
        role.AcceptOnlyFromAmong([.. Roles.All]);
        var create = new Command("create", "Create a token; its secret is printed this once") { name, role };
        create.SetAction(Remote(async (result, client, ct) =>
            Print(result, await client.Tokens.CreateAsync(result.GetValue(name)!, result.GetValue(role)!, ct), StratusJsonContext.Default.CreatedToken, t =>
            {
                AnsiConsole.MarkupLine($"Created token [bold]{Esc(t.Info.Name)}[/] (id {t.Info.Id}, {Esc(t.Info.Role)}). Store it now; it is not shown again:");
                Console.WriteLine(t.Token);
            })));
        command.Subcommands.Add(create);

        var list = new Command("list", "List tokens (never their secrets)");
        list.SetAction(Remote(async (result, client, ct) =>
            Print(result, await client.Tokens.ListAsync(null, null, ct), StratusJsonContext.Default.PageTokenInfo, p =>
            {
                var table = NewTable("Id", "Name", "Role", "Created", "Last used", "Revoked");
                foreach (var t in p.Items) table.AddRow(Esc(t.Id), Esc(t.Name), Esc(t.Role), When(t.CreatedAt), When(t.LastUsedAt), When(t.RevokedAt));
                AnsiConsole.Write(table);
            })));
        command.Subcommands.Add(list);

        var id = new Argument<long>("id") { Description = "Token id" };
        var revoke = new Command("revoke", "Revoke a token") { id };
        revoke.SetAction(Remote(async (result, client, ct) =>
            Print(result, await client.Tokens.RevokeAsync(result.GetValue(id), ct), StratusJsonContext.Default.TokenInfo,
                t => AnsiConsole.MarkupLine($"Revoked token {Esc(t.Name)} (id {t.Id})"))));
        command.Subcommands.Add(revoke);
        return command;
    }

    public static Command Audit()
    {
        var actor = new Option<string?>("--actor") { Description = "Only entries of this token name" };
        var outcome = new Option<string?>("--outcome") { Description = "ok, refused or error" };
        var pageToken = new Option<string?>("--page-token") { Description = "Token from the previous page" };
        var command = new Command("audit", "Read the append-only audit log, newest first (admin)") { actor, outcome, pageToken };
        command.SetAction(Remote(async (result, client, ct) =>
            Print(result, await client.AuditAsync(result.GetValue(actor), result.GetValue(outcome), null, result.GetValue(pageToken), ct), StratusJsonContext.Default.PageAuditEntry, p =>
            {
                var table = NewTable("Time", "Actor", "Request", "Status", "Outcome", "From");
                foreach (var e in p.Items)
                    table.AddRow(When(e.Time), Esc(e.Actor), Esc($"{e.Method} {e.Path}"), Esc(e.Status), (e.Outcome == "ok" ? "ok" : $"[red]{Esc(e.Outcome)}[/]") + (e.Detail is null ? "" : $" [grey]{Esc(e.Detail)}[/]"), Esc(e.RemoteAddress));
                AnsiConsole.Write(table);
                PageHint(p.NextPageToken);
            })));
        return command;
    }
}
