using System.Net;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Stratus.Client;
using Stratus.Server.Storage;
using Stratus.Testing;

namespace Stratus.Server.Tests;

/// <summary>Tokens expire, within the lifetime an admin allows, and rotate with no gap.</summary>
public sealed class TokenLifetimeTests : IAsyncLifetime
{
    private TestServer _server = null!;

    public async ValueTask InitializeAsync() => _server = await TestServer.StartAsync();

    public async ValueTask DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task Should_expire_tokens_within_the_allowed_lifetime_and_rotate_them_with_no_gap()
    {
        var admin = _server.Client();
        var before = DateTimeOffset.UtcNow;
        var standard = await admin.Tokens.CreateAsync("standard", Roles.Viewer);
        Assert.InRange(standard.Info.ExpiresAt!.Value, before.AddDays(90).AddSeconds(-5), DateTimeOffset.UtcNow.AddDays(90).AddSeconds(5));
        var week = await admin.Tokens.CreateAsync("a-week", Roles.Viewer, expiresInDays: 7);
        Assert.InRange(week.Info.ExpiresAt!.Value, before.AddDays(7).AddSeconds(-5), DateTimeOffset.UtcNow.AddDays(7).AddSeconds(5));
        foreach (var days in new[] { 0, 366 })
        {
            var refused = await Assert.ThrowsAsync<StratusApiException>(() => admin.Tokens.CreateAsync($"days-{days}", Roles.Viewer, expiresInDays: days));
            Assert.Equal(HttpStatusCode.BadRequest, refused.Status);
            Assert.Contains("expires_in_days: is " + days + "; a token lives from 1 day to 365 days", refused.Detail, StringComparison.Ordinal);
        }

        // Past its time a token is refused, as a revoked one is.
        var expiring = await admin.Tokens.CreateAsync("expiring", Roles.Viewer);
        await SetAsync(expiring.Info.Id, expires: DateTimeOffset.UtcNow.AddMinutes(-1));
        Assert.Equal(HttpStatusCode.Unauthorized, (await Assert.ThrowsAsync<StratusApiException>(() => _server.Client(expiring.Token).WhoAmIAsync())).Status);
        Assert.Equal(HttpStatusCode.Conflict, (await Assert.ThrowsAsync<StratusApiException>(() => admin.Tokens.RotateAsync(expiring.Info.Id))).Status);

        // A rotation: old and new secrets both work; a second rotation ends the first secret at once.
        var app = await admin.Tokens.CreateAsync("app", Roles.Editor);
        Assert.Equal("app", (await _server.Client(app.Token).WhoAmIAsync()).Name);
        var first = await admin.Tokens.RotateAsync(app.Info.Id);
        Assert.Equal(app.Info.ExpiresAt, first.Info.PreviousExpiresAt);
        Assert.True(first.Info.ExpiresAt > app.Info.ExpiresAt);
        Assert.Equal("app", (await _server.Client(app.Token).WhoAmIAsync()).Name);
        Assert.Equal("app", (await _server.Client(first.Token).WhoAmIAsync()).Name);
        var second = await admin.Tokens.RotateAsync(app.Info.Id);
        Assert.Equal(HttpStatusCode.Unauthorized, (await Assert.ThrowsAsync<StratusApiException>(() => _server.Client(app.Token).WhoAmIAsync())).Status);
        Assert.Equal("app", (await _server.Client(second.Token).WhoAmIAsync()).Name);

        // The replaced secret stops when its own time is up; the new one goes on.
        var service = await admin.Tokens.CreateAsync("service", Roles.Viewer);
        var rotated = await admin.Tokens.RotateAsync(service.Info.Id);
        await SetAsync(service.Info.Id, previousExpires: DateTimeOffset.UtcNow.AddMinutes(-1));
        Assert.Equal(HttpStatusCode.Unauthorized, (await Assert.ThrowsAsync<StratusApiException>(() => _server.Client(service.Token).WhoAmIAsync())).Status);
        Assert.Equal("service", (await _server.Client(rotated.Token).WhoAmIAsync()).Name);
        var listed = (await admin.Tokens.ListAsync(pageSize: 100)).Items.Single(t => t.Name == "service");
        Assert.NotNull(listed.PreviousExpiresAt);
    }

    [Fact]
    public async Task Should_make_a_new_admin_token_when_a_start_finds_every_admin_token_expired()
    {
        var dataDir = Directory.CreateTempSubdirectory("stratus-renew-").FullName;
        try
        {
            string old;
            await using (var first = await TestServer.StartAsync(dataDir: dataDir))
            {
                old = first.AdminToken;
                await using var scope = first.Services.CreateAsyncScope();
                var db = scope.ServiceProvider.GetRequiredService<StratusDb>();
                await db.Tokens.ExecuteUpdateAsync(s => s.SetProperty(t => t.ExpiresAt, DateTimeOffset.UtcNow.AddMinutes(-1)));
            }
            await using var again = await TestServer.StartAsync(dataDir: dataDir);
            var renewed = (await File.ReadAllTextAsync(Path.Combine(dataDir, "admin.token"))).Trim();
            Assert.NotEqual(old, renewed);
            var me = await again.Client(renewed).WhoAmIAsync();
            // A new token of the admin user, who keeps her name in the audit log.
            Assert.StartsWith("admin-", me.Token, StringComparison.Ordinal);
            Assert.Equal(("admin", "admin"), (me.Name, me.Role));
            Assert.Equal(HttpStatusCode.Unauthorized, (await Assert.ThrowsAsync<StratusApiException>(() => again.Client(old).WhoAmIAsync())).Status);
        }
        finally
        {
            Directory.Delete(dataDir, recursive: true);
        }
    }

    private async Task SetAsync(long id, DateTimeOffset? expires = null, DateTimeOffset? previousExpires = null)
    {
        await using var scope = _server.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<StratusDb>();
        if (expires is { } e) await db.Tokens.Where(t => t.Id == id).ExecuteUpdateAsync(s => s.SetProperty(t => t.ExpiresAt, e));
        if (previousExpires is { } p) await db.Tokens.Where(t => t.Id == id).ExecuteUpdateAsync(s => s.SetProperty(t => t.PreviousExpiresAt, p));
    }
}
