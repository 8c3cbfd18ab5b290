using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using Microsoft.Extensions.DependencyInjection;
using Stratus.Client;
using Stratus.Server.Storage;
using Stratus.Testing;

namespace Stratus.Server.Tests;

/// <summary>Users and service accounts own tokens: calls are recorded under their names, and a disabled one's tokens stop.</summary>
public sealed class UsersTests : IAsyncLifetime
{
    private TestServer _server = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() => _server = await TestServer.StartAsync();

    public async ValueTask DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task Should_record_calls_under_a_tokens_user_and_stop_a_disabled_users_tokens()
    {
        var admin = _server.Client();
        var alice = await admin.CreateUserAsync(new CreateUserRequest("alice"), Ct);
        Assert.Equal(("alice", UserKinds.User, false, "admin"), (alice.Name, alice.Kind, alice.Admin, alice.CreatedBy));
        await admin.SetProjectMemberAsync(Projects.Default, "alice", Projects.Editor, Ct);
        var laptop = await admin.Tokens.CreateAsync(new CreateTokenRequest("alice-laptop", Roles.Editor, User: "alice"), Ct);
        var ci = await admin.Tokens.CreateAsync(new CreateTokenRequest("alice-ci", Roles.Viewer, User: "alice"), Ct);
        Assert.Equal("alice", laptop.Info.User);

        // Both tokens are alice: what they do is recorded under her name, with the token's own name beside it.
        Assert.Equal(new WhoAmI("alice", Roles.Editor, "alice-laptop", Projects.Default, Roles.Editor), await _server.Client(laptop.Token).WhoAmIAsync(Ct));
        Assert.Equal(new WhoAmI("alice", Roles.Viewer, "alice-ci", Projects.Default, Roles.Viewer), await _server.Client(ci.Token).WhoAmIAsync(Ct));
        await _server.Client(laptop.Token).Experiments.CreateAsync(new CreateExperimentRequest("alice-exp"), Ct);
        Assert.Contains((await admin.AuditAsync(actor: "alice", ct: Ct)).Items, a => a is { Method: "POST", Path: "/api/v1/experiments", Outcome: "ok" });

        // A token without a user belongs to a service account of its name, made with it.
        var pipeline = await admin.Tokens.CreateAsync(new CreateTokenRequest("nightly-pipeline", Roles.Editor), Ct);
        Assert.Equal("nightly-pipeline", pipeline.Info.User);
        var users = await admin.UsersAsync(Ct);
        Assert.Equal((UserKinds.Service, 1), users.Where(u => u.Name == "nightly-pipeline").Select(u => (u.Kind, u.Tokens)).Single());
        Assert.Equal(2, users.Single(u => u.Name == "alice").Tokens);
        Assert.True(users.Single(u => u.Name == "admin").Admin);

        // What cannot be: each refusal names the field or the cause.
        await RefusedAsync(HttpStatusCode.BadRequest, "role: 'alice' is not an admin",
            () => admin.Tokens.CreateAsync(new CreateTokenRequest("alice-root", Roles.Admin, User: "alice"), Ct));
        await RefusedAsync(HttpStatusCode.BadRequest, "user: no user or service account is named 'bob'",
            () => admin.Tokens.CreateAsync(new CreateTokenRequest("bobs", Roles.Viewer, User: "bob"), Ct));
        await RefusedAsync(HttpStatusCode.Conflict, "'alice' is a user or service account: give its token a name of its own",
            () => admin.Tokens.CreateAsync(new CreateTokenRequest("alice", Roles.Viewer), Ct));
        await RefusedAsync(HttpStatusCode.Conflict, "a user or service account named 'alice' already exists", () => admin.CreateUserAsync(new CreateUserRequest("alice"), Ct));
        await RefusedAsync(HttpStatusCode.BadRequest, "kind: 'robot' is not a kind of user", () => admin.CreateUserAsync(new CreateUserRequest("r2", "robot"), Ct));
        await RefusedAsync(HttpStatusCode.BadRequest, "name:", () => admin.CreateUserAsync(new CreateUserRequest("../etc"), Ct));
        await RefusedAsync(HttpStatusCode.Forbidden, "stronger role", () => _server.Client(laptop.Token).UsersAsync(Ct));

        // Disabled: both of her tokens stop at once, and she gets no new one.
        var disabled = await admin.DisableUserAsync("alice", Ct);
        Assert.NotNull(disabled.DisabledAt);
        foreach (var token in new[] { laptop.Token, ci.Token })
            Assert.Equal(HttpStatusCode.Unauthorized, (await Assert.ThrowsAsync<StratusApiException>(() => _server.Client(token).WhoAmIAsync(Ct))).Status);
        await RefusedAsync(HttpStatusCode.Conflict, "'alice' is disabled", () => admin.Tokens.CreateAsync(new CreateTokenRequest("alice-new", Roles.Viewer, User: "alice"), Ct));
        await RefusedAsync(HttpStatusCode.Conflict, "who is disabled", () => admin.Tokens.RotateAsync(laptop.Info.Id, Ct));
        Assert.Equal(0, (await admin.UsersAsync(Ct)).Single(u => u.Name == "alice").Tokens);

        // The platform keeps a way in: the admin holding the only live admin token cannot be disabled.
        await RefusedAsync(HttpStatusCode.Conflict, "'admin' holds the last live admin token", () => admin.DisableUserAsync("admin", Ct));
        await RefusedAsync(HttpStatusCode.NotFound, "user 'bob' does not exist", () => admin.DisableUserAsync("bob", Ct));
    }

    [Fact]
    public async Task Should_give_every_token_made_before_users_a_service_account_of_its_name()
    {
        // The schema before users, with tokens in it: the migration gives each its owner, an admin's an admin one.
        await using var scope = _server.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<StratusDb>();
        var migrator = db.GetService<IMigrator>();
        var migrations = db.Database.GetMigrations().ToList();
        var users = migrations.Single(m => m.EndsWith("_Users", StringComparison.Ordinal));
        await migrator.MigrateAsync(migrations[migrations.IndexOf(users) - 1], Ct);
        var secrets = new Dictionary<string, string> { ["old-editor"] = Roles.Editor, ["old-admin"] = Roles.Admin };
        var tokens = new Dictionary<string, string>();
        foreach (var (name, role) in secrets)
        {
            tokens[name] = $"stratus_{name}-secret-{Guid.NewGuid():N}";
            var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(tokens[name])));
            var created = TestDatabase.Time(DateTimeOffset.UtcNow);
            var expires = TestDatabase.Time(DateTimeOffset.UtcNow.AddDays(1));
            await db.Database.ExecuteSqlAsync($"""INSERT INTO tokens ("Name", "Role", "Hash", "CreatedAt", "ExpiresAt") VALUES ({name}, {role}, {hash}, {created}, {expires})""", Ct);
        }

        await migrator.MigrateAsync(cancellationToken: Ct);

        var owners = await db.Users.AsNoTracking().Where(u => u.Name.StartsWith("old-")).ToDictionaryAsync(u => u.Name, Ct);
        Assert.Equal((UserKinds.Service, false), (owners["old-editor"].Kind, owners["old-editor"].Admin));
        Assert.True(owners["old-admin"].Admin);
        Assert.Empty(await db.Tokens.Where(t => t.UserId == null).Select(t => t.Name).ToListAsync(Ct));
        Assert.Equal(new WhoAmI("old-editor", Roles.Editor, "old-editor", Projects.Default, Roles.Editor), await _server.Client(tokens["old-editor"]).WhoAmIAsync(Ct));
        Assert.Equal("admin", (await _server.Client().WhoAmIAsync(Ct)).Name);
    }

    private static async Task RefusedAsync(HttpStatusCode status, string detail, Func<Task> call)
    {
        var refused = await Assert.ThrowsAsync<StratusApiException>(call);
        Assert.Equal(status, refused.Status);
        Assert.Contains(detail, refused.Detail, StringComparison.Ordinal);
    }
}
