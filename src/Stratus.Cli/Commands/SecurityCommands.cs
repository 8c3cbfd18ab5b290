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

        var name = new Argument<string>("name") { Description = "The token's name; without --user, also the name of the service account made to own it" };
        var role = new Option<string>("--role") { Description = "viewer, editor or admin (an admin's token only)", DefaultValueFactory = _ => Roles.Viewer };
        var user = new Option<string?>("--user") { Description = "The user or service account the token belongs to: its calls are recorded under that name (stratus users create)" };
        role.AcceptOnlyFromAmong([.. Roles.All]);
        var days = new Option<int?>("--expires-days") { Description = "Days until the token stops working (default: the server's TokenLifetime, 90 days)" };
        var invoke = new Option<string?>("--invoke")
        {
            Description = "Make a token that may only call the predict route of these endpoints (comma-separated), nothing else: the token an application embeds",
        };
        var only = new Option<bool>("--project-only") { Description = "The token works only in the project of the command (--project); an invoke token always does" };
        var create = new Command("create", "Create a token; its secret is printed this once. Without --user, the service account made for it joins the command's project (--project) with the token's role")
            { name, role, days, invoke, user, only };
        create.Validators.Add(r =>
        {
            if (r.GetValue(invoke) is not null && r.GetResult(role) is { Implicit: false }) r.AddError("--invoke makes an invoke token: leave out --role");
        });
        create.SetAction(Remote(async (result, client, ct) =>
        {
            var endpoints = result.GetValue(invoke)?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            var request = new CreateTokenRequest(result.GetValue(name)!, endpoints is null ? result.GetValue(role)! : Roles.Invoke, result.GetValue(days), endpoints, result.GetValue(user),
                result.GetValue(only));
            Print(result, await client.Tokens.CreateAsync(request, ct), StratusJsonContext.Default.CreatedToken, t =>
            {
                AnsiConsole.MarkupLine($"Created token [bold]{Esc(t.Info.Name)}[/] of {Esc(t.Info.User ?? t.Info.Name)} (id {t.Info.Id}, {Esc(Scope(t.Info))}, expires {When(t.Info.ExpiresAt)}). " +
                    "Store it now; it is not shown again:");
                Console.WriteLine(t.Token);
            });
        }));
        command.Subcommands.Add(create);

        var list = new Command("list", "List tokens (never their secrets)");
        list.SetAction(Remote(async (result, client, ct) =>
            Print(result, await client.Tokens.ListAsync(null, null, ct), StratusJsonContext.Default.PageTokenInfo, p =>
            {
                var table = NewTable("Id", "Name", "User", "Role", "Created", "Expires", "Last used", "Revoked");
                foreach (var t in p.Items)
                    table.AddRow(Esc(t.Id), Esc(t.Name), Esc(t.User ?? ""), Esc(Scope(t)), When(t.CreatedAt), When(t.ExpiresAt) + (t.PreviousExpiresAt is { } old ? $" (old secret until {When(old)})" : ""),
                        When(t.LastUsedAt), When(t.RevokedAt));
                AnsiConsole.Write(table);
            })));
        command.Subcommands.Add(list);

        var id = new Argument<long>("id") { Description = "Token id" };
        var rotate = new Command("rotate", "Give a token a new secret, printed this once; the old secret works until it would have expired, so its users can switch with no gap") { id };
        rotate.SetAction(Remote(async (result, client, ct) =>
            Print(result, await client.Tokens.RotateAsync(result.GetValue(id), ct), StratusJsonContext.Default.CreatedToken, t =>
            {
                AnsiConsole.MarkupLine($"Rotated token [bold]{Esc(t.Info.Name)}[/] (id {t.Info.Id}): the old secret works until {When(t.Info.PreviousExpiresAt)}, the new one until {When(t.Info.ExpiresAt)}. Store it now:");
                Console.WriteLine(t.Token);
            })));
        command.Subcommands.Add(rotate);
        var revoke = new Command("revoke", "Revoke a token") { id };
        revoke.SetAction(Remote(async (result, client, ct) =>
            Print(result, await client.Tokens.RevokeAsync(result.GetValue(id), ct), StratusJsonContext.Default.TokenInfo,
                t => AnsiConsole.MarkupLine($"Revoked token {Esc(t.Name)} (id {t.Id})"))));
        command.Subcommands.Add(revoke);
        return command;
    }

    /// <summary>A token's role, or what an invoke token may call.</summary>
    private static string Scope(TokenInfo t) =>
        (t.Endpoints is { Count: > 0 } endpoints ? $"{t.Role}: {string.Join(", ", endpoints)}" : t.Role) + (t.Project is { } project ? $" in {project} only" : "");

    public static Command Projects()
    {
        var command = new Command("projects", "Projects: the namespaces datasets, experiments, jobs, models and endpoints live in; members see only their projects (admins: all)");
        var name = new Argument<string>("name") { Description = "The project's name" };
        var create = new Command("create", "Create a project; you become its owner (work in it with --project NAME or STRATUS_PROJECT)") { name };
        create.SetAction(Remote(async (result, client, ct) =>
            Print(result, await client.CreateProjectAsync(result.GetValue(name)!, ct), StratusJsonContext.Default.ProjectInfo,
                p => AnsiConsole.MarkupLine($"Created project [bold]{Esc(p.Name)}[/]; work in it with --project {Esc(p.Name)}; add people with stratus projects members add {Esc(p.Name)} USER --role editor"))));
        command.Subcommands.Add(create);
        var list = new Command("list", "The projects you may see, with your role in each");
        list.SetAction(Remote(async (result, client, ct) =>
            Print(result, await client.ProjectsAsync(ct), StratusJsonContext.Default.IReadOnlyListProjectInfo, projects =>
            {
                var table = NewTable("Name", "Your role", "Members", "Created", "By");
                foreach (var p in projects) table.AddRow(Esc(p.Name), Esc(p.Role), Esc(p.Members), When(p.CreatedAt), Esc(p.CreatedBy));
                AnsiConsole.Write(table);
            })));
        command.Subcommands.Add(list);

        var members = new Command("members", "A project's members and their roles: viewer, editor or owner (a token's own role still caps what it does)");
        var user = new Argument<string>("user") { Description = "A user or service account (stratus users create)" };
        var role = new Option<string>("--role") { Description = "viewer, editor or owner", DefaultValueFactory = _ => Stratus.Projects.Viewer };
        role.AcceptOnlyFromAmong([.. Stratus.Projects.Roles]);
        var membersList = new Command("list", "List a project's members") { name };
        membersList.SetAction(Remote(async (result, client, ct) =>
            Print(result, await client.ProjectMembersAsync(result.GetValue(name)!, ct), StratusJsonContext.Default.IReadOnlyListProjectMemberInfo, rows =>
            {
                var table = NewTable("User", "Role", "Added", "By");
                foreach (var m in rows) table.AddRow(Esc(m.User), Esc(m.Role), When(m.AddedAt), Esc(m.AddedBy));
                AnsiConsole.Write(table);
            })));
        var add = new Command("add", "Add a member, or change its role (an owner of the project, or an admin)") { name, user, role };
        add.SetAction(Remote(async (result, client, ct) =>
            Print(result, await client.SetProjectMemberAsync(result.GetValue(name)!, result.GetValue(user)!, result.GetValue(role)!, ct), StratusJsonContext.Default.ProjectMemberInfo,
                m => AnsiConsole.MarkupLine($"{Esc(m.User)} is {Esc(m.Role)} of project {Esc(result.GetValue(name)!)}"))));
        var remove = new Command("remove", "Remove a member (an owner of the project, or an admin); the last owner stays") { name, user };
        remove.SetAction(Remote(async (result, client, ct) =>
        {
            await client.RemoveProjectMemberAsync(result.GetValue(name)!, result.GetValue(user)!, ct);
            if (!Json(result)) AnsiConsole.MarkupLine($"Removed {Esc(result.GetValue(user)!)} from project {Esc(result.GetValue(name)!)}");
        }));
        members.Subcommands.Add(membersList);
        members.Subcommands.Add(add);
        members.Subcommands.Add(remove);
        command.Subcommands.Add(members);

        var kind = new Argument<string>("kind") { Description = "model or dataset" };
        kind.AcceptOnlyFromAmong("model", "dataset");
        var resource = new Argument<string>("resource") { Description = "The model's or dataset's name in the project" };
        var to = new Option<string>("--to") { Description = "The project that may use it, as PROJECT/NAME", Required = true };
        var grant = new Command("grant", "Let another project use one of this project's models or datasets (deploy it, train on it) as PROJECT/NAME; recorded in the audit log (an owner or an admin)")
            { name, kind, resource, to };
        grant.SetAction(Remote(async (result, client, ct) =>
            Print(result, await client.GrantAsync(result.GetValue(name)!, new GrantRequest(result.GetValue(kind)!, result.GetValue(resource)!, result.GetValue(to)!), ct),
                StratusJsonContext.Default.GrantInfo,
                g => AnsiConsole.MarkupLine($"Grant {g.Id}: project {Esc(g.To)} may use {Esc(g.Kind)} {Esc(g.Project)}/{Esc(g.Resource)}"))));
        command.Subcommands.Add(grant);
        var grants = new Command("grants", "The grants a project gave and received") { name };
        grants.SetAction(Remote(async (result, client, ct) =>
            Print(result, await client.GrantsAsync(result.GetValue(name)!, ct), StratusJsonContext.Default.IReadOnlyListGrantInfo, rows =>
            {
                var table = NewTable("Id", "Resource", "To", "Granted", "By");
                foreach (var g in rows) table.AddRow(Esc(g.Id), Esc($"{g.Kind} {g.Project}/{g.Resource}"), Esc(g.To), When(g.CreatedAt), Esc(g.CreatedBy));
                AnsiConsole.Write(table);
            })));
        command.Subcommands.Add(grants);
        var grantId = new Argument<long>("id") { Description = "The grant's id (stratus projects grants NAME)" };
        var revoke = new Command("revoke-grant", "Withdraw a grant (an owner or an admin)") { name, grantId };
        revoke.SetAction(Remote(async (result, client, ct) =>
        {
            await client.RevokeGrantAsync(result.GetValue(name)!, result.GetValue(grantId), ct);
            if (!Json(result)) AnsiConsole.MarkupLine($"Withdrew grant {result.GetValue(grantId)}");
        }));
        command.Subcommands.Add(revoke);
        return command;
    }

    public static Command Keys()
    {
        var command = new Command("keys", "The key-encryption keys that wrap every blob's data key (admin; never prints a key)");
        var list = new Command("list", "List the key-encryption keys: which one is active, how many data keys each wraps");
        list.SetAction(Remote(async (result, client, ct) =>
            Print(result, await client.KeysAsync(ct), StratusJsonContext.Default.IReadOnlyListKeyStatus, keys =>
            {
                var table = NewTable("Id", "Active", "Data keys", "Added", "Retired");
                foreach (var k in keys) table.AddRow(Esc(k.Id), k.Active ? "[green]active[/]" : "", Esc(k.DataKeys), When(k.AddedAt), When(k.RetiredAt));
                AnsiConsole.Write(table);
            })));
        command.Subcommands.Add(list);
        var rotate = new Command("rotate",
            "Make a new active key-encryption key and re-wrap every data key under it, without rewriting the blobs; the earlier keys are retired. " +
            "With keys from a key file the server adds the new key to it; with STRATUS_MASTERKEY, KMS keys or PKCS#11 keys, list the new key last on every node first");
        rotate.SetAction(Remote(async (result, client, ct) =>
            Print(result, await client.RotateKeysAsync(ct), StratusJsonContext.Default.KeyRotation, r =>
                AnsiConsole.MarkupLine($"Key [bold]{Esc(r.ActiveKey)}[/] is active ({Esc(r.Source)}): {r.Rewrapped:N0} data keys re-wrapped" +
                    (r.Retired.Count > 0 ? $", key {Esc(string.Join(", ", r.Retired))} retired" : "")))));
        command.Subcommands.Add(rotate);
        return command;
    }

    public static Command Users()
    {
        var command = new Command("users", "Users (people) and service accounts (programs) that own tokens; what a token does is recorded under its owner's name (admin)");
        var name = new Argument<string>("name") { Description = "The user's or service account's name" };
        var service = new Option<bool>("--service") { Description = "A service account (a pipeline, an application) rather than a person" };
        var admin = new Option<bool>("--admin") { Description = "Its tokens may be admin tokens" };
        var create = new Command("create", "Create a user or service account; then give it tokens with stratus tokens create NAME --user USER") { name, service, admin };
        create.SetAction(Remote(async (result, client, ct) =>
            Print(result, await client.CreateUserAsync(new CreateUserRequest(result.GetValue(name)!, result.GetValue(service) ? UserKinds.Service : UserKinds.User,
                    result.GetValue(admin)), ct), StratusJsonContext.Default.UserInfo,
                u => AnsiConsole.MarkupLine($"Created {(u.Kind == UserKinds.Service ? "service account" : "user")} [bold]{Esc(u.Name)}[/]{(u.Admin ? " (admin)" : "")}; " +
                    $"give it a token with stratus tokens create NAME --user {Esc(u.Name)}"))));
        command.Subcommands.Add(create);
        var list = new Command("list", "List users and service accounts, with their live tokens");
        list.SetAction(Remote(async (result, client, ct) =>
            Print(result, await client.UsersAsync(ct), StratusJsonContext.Default.IReadOnlyListUserInfo, users =>
            {
                var table = NewTable("Name", "Kind", "Admin", "Live tokens", "Created", "By", "Disabled");
                foreach (var u in users) table.AddRow(Esc(u.Name), Esc(u.Kind), u.Admin ? "yes" : "", Esc(u.Tokens), When(u.CreatedAt), Esc(u.CreatedBy), When(u.DisabledAt));
                AnsiConsole.Write(table);
            })));
        command.Subcommands.Add(list);
        var disable = new Command("disable", "Disable a user or service account: its tokens stop working at once; its name and record stay") { name };
        disable.SetAction(Remote(async (result, client, ct) =>
            Print(result, await client.DisableUserAsync(result.GetValue(name)!, ct), StratusJsonContext.Default.UserInfo,
                u => AnsiConsole.MarkupLine($"Disabled {Esc(u.Name)}: its tokens no longer work"))));
        command.Subcommands.Add(disable);
        return command;
    }

    public static Command Secrets()
    {
        var command = new Command("secrets", "Secrets (webhook URLs, credentials) stored sealed; no command, page or route ever shows a value (admin). " +
            "What needs one names it as secret:NAME, as in stratus monitor set NAME --webhook secret:NAME");
        var name = new Argument<string>("name") { Description = "The secret's name" };
        var set = new Command("set", "Set a secret's value, read from standard input (or asked for, unechoed): never from the command line, which other users and shell histories see") { name };
        set.SetAction(Remote(async (result, client, ct) =>
        {
            var value = Console.IsInputRedirected ? (await Console.In.ReadToEndAsync(ct)).TrimEnd('\r', '\n') : AnsiConsole.Prompt(new TextPrompt<string>("Value:").Secret());
            if (value.Length == 0) throw new ArgumentException("secrets set needs a value on standard input (stratus secrets set NAME < file) or at the prompt");
            Print(result, await client.SetSecretAsync(result.GetValue(name)!, value, ct), StratusJsonContext.Default.SecretInfo,
                s => AnsiConsole.MarkupLine($"Secret [bold]{Esc(s.Name)}[/] set; use it as secret:{Esc(s.Name)}"));
        }));
        command.Subcommands.Add(set);
        var list = new Command("list", "List the secrets: names and when they were set, never values");
        list.SetAction(Remote(async (result, client, ct) =>
            Print(result, await client.SecretsAsync(ct), StratusJsonContext.Default.IReadOnlyListSecretInfo, secrets =>
            {
                var table = NewTable("Name", "Created", "Updated", "By");
                foreach (var s in secrets) table.AddRow(Esc(s.Name), When(s.CreatedAt), When(s.UpdatedAt), Esc(s.UpdatedBy));
                AnsiConsole.Write(table);
            })));
        command.Subcommands.Add(list);
        var delete = new Command("delete", "Delete a secret") { name };
        delete.SetAction(Remote(async (result, client, ct) =>
            Print(result, await client.DeleteSecretAsync(result.GetValue(name)!, ct), StratusJsonContext.Default.SecretInfo,
                s => AnsiConsole.MarkupLine($"Deleted secret {Esc(s.Name)}"))));
        command.Subcommands.Add(delete);
        return command;
    }

    public static Command Audit()
    {
        var actor = new Option<string?>("--actor") { Description = "Only entries of this user or service account" };
        var outcome = new Option<string?>("--outcome") { Description = "ok, refused or error" };
        var pageToken = new Option<string?>("--page-token") { Description = "Token from the previous page" };
        var command = new Command("audit", "Read the append-only audit log, newest first (admin)") { actor, outcome, pageToken };
        command.SetAction(Remote(async (result, client, ct) =>
            Print(result, await client.AuditAsync(result.GetValue(actor), result.GetValue(outcome), null, result.GetValue(pageToken), ct: ct), StratusJsonContext.Default.PageAuditEntry, p =>
            {
                var table = NewTable("Time", "Actor", "Request", "Status", "Outcome", "From");
                foreach (var e in p.Items)
                    table.AddRow(When(e.Time), Esc(e.Actor), Esc($"{e.Method} {e.Path}"), Esc(e.Status), (e.Outcome == "ok" ? "ok" : $"[red]{Esc(e.Outcome)}[/]") + (e.Detail is null ? "" : $" [grey]{Esc(e.Detail)}[/]"), Esc(e.RemoteAddress));
                AnsiConsole.Write(table);
                PageHint(p.NextPageToken);
            })));

        var verify = new Command("verify", "Check the audit log's hash chain: every row follows the one before it and still matches its hash; names the first row that breaks it (exit code 2)");
        verify.SetAction(async (result, ct) =>
        {
            var intact = true;
            var run = Remote(async (r, client, token) =>
            {
                var v = await client.VerifyAuditAsync(token);
                intact = v.Intact;
                Print(r, v, StratusJsonContext.Default.AuditVerification, x => AnsiConsole.MarkupLine(x.Intact
                    ? $"[green]intact[/]: {x.Rows - x.Unchained:N0} rows chained{(x.Unchained > 0 ? $" ({x.Unchained:N0} older rows written before the chain)" : "")}; head {Esc(x.Head ?? "-")}"
                    : $"[red]broken[/] at row {x.BrokenAt}: {Esc(x.Reason)} ({x.Rows - 1 - x.Unchained:N0} rows before it intact)"));
            });
            var code = await run(result, ct);
            return code != 0 ? code : intact ? 0 : 2;
        });
        command.Subcommands.Add(verify);

        var since = new Option<string>("--since") { Description = "How far back: 90m, 12h, 7d ...", DefaultValueFactory = _ => "1d" };
        var output = new Option<FileInfo?>("--out") { Description = "The file to write (default: standard output)" };
        var export = new Command("export", "Write the audit log as JSON lines, oldest first, for a SIEM (admin)") { since, output };
        export.SetAction(Remote(async (result, client, ct) =>
        {
            var from = DateTimeOffset.UtcNow.AddSeconds(-AutoMlCommand.Seconds(result.GetValue(since)!, "--since"));
            // Pages come newest first; a SIEM wants them in order. A page at a time, then reversed as a whole.
            var entries = new List<AuditEntry>();
            string? page = null;
            do
            {
                var p = await client.AuditAsync(pageSize: 1000, pageToken: page, ct: ct, since: from);
                entries.AddRange(p.Items);
                page = p.NextPageToken;
            }
            while (page is not null);
            entries.Reverse();
            var lines = entries.Select(e => System.Text.Json.JsonSerializer.Serialize(e, StratusJsonContext.Default.AuditEntry));
            if (result.GetValue(output) is not { } file)
            {
                foreach (var line in lines) Console.Out.WriteLine(line);
                return;
            }
            // Whole or not at all: a SIEM never picks up half a file.
            var temp = file.FullName + ".partial";
            await File.WriteAllLinesAsync(temp, lines, ct);
            File.Move(temp, file.FullName, overwrite: true);
            Console.Error.WriteLine($"Wrote {entries.Count:N0} audit rows since {from:u} to {file.FullName}");
        }));
        command.Subcommands.Add(export);
        return command;
    }
}
