using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Stratus.Client;
using Stratus.Server.Storage;
using Stratus.Testing;

namespace Stratus.Server.Tests;

/// <summary>The audit log as a hash chain: intact under concurrent writers, and a direct edit of the database found by row.</summary>
public sealed class AuditChainTests : IAsyncLifetime
{
    private TestServer _server = null!;

    public async ValueTask InitializeAsync() => _server = await TestServer.StartAsync();

    public async ValueTask DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task Should_chain_every_row_under_concurrent_writers_and_name_the_row_a_direct_database_edit_broke()
    {
        var client = _server.Client();
        // Writers at once through the API (each request audited), and the chain's readers.
        await Task.WhenAll(Enumerable.Range(0, 24).Select(i => client.Experiments.CreateAsync(new CreateExperimentRequest($"chained-{i}"))));
        var intact = await client.VerifyAuditAsync();
        Assert.True(intact.Intact, intact.Reason);
        Assert.True(intact.Rows >= 24, $"{intact.Rows} rows");
        Assert.Equal(0, intact.Unchained);
        var rows = (await client.AuditAsync(pageSize: 1000)).Items.OrderBy(a => a.Id).ToList();
        Assert.Equal(intact.Head, rows[^1].Hash);
        Assert.All(rows.Skip(1).Zip(rows), pair => Assert.Equal(pair.Second.Hash, pair.First.PrevHash));

        // Someone with the database's own credentials gets past the append-only triggers: removes a row, then
        // rewrites an earlier one. Each break is named by the first row it shows at.
        var (removed, changed) = (rows[^5].Id, rows[3].Id);
        await using (var scope = _server.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<StratusDb>();
            await db.Database.ExecuteSqlRawAsync(TestDatabase.IsPostgres
                ? "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change"
                : "DROP TRIGGER audit_log_no_delete; DROP TRIGGER audit_log_no_update");
            await db.Database.ExecuteSqlAsync($"DELETE FROM audit_log WHERE \"Id\" = {removed}");
        }
        var afterRemoval = await client.VerifyAuditAsync();
        Assert.False(afterRemoval.Intact);
        Assert.Equal(rows[^4].Id, afterRemoval.BrokenAt);
        Assert.Contains("does not follow the row before it", afterRemoval.Reason, StringComparison.Ordinal);

        await using (var scope = _server.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<StratusDb>();
            await db.Database.ExecuteSqlAsync($"UPDATE audit_log SET \"Actor\" = 'someone-else' WHERE \"Id\" = {changed}");
        }
        var afterChange = await client.VerifyAuditAsync();
        Assert.Equal((false, changed), (afterChange.Intact, afterChange.BrokenAt));
        Assert.Contains("no longer match its hash", afterChange.Reason, StringComparison.Ordinal);
        Assert.Equal(rows[2].Hash, afterChange.Head); // the last row still intact before the break
    }
}
