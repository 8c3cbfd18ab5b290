using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Stratus.Server.Storage;

namespace Stratus.Server.Cluster;

/// <summary>Route of <c>/api/v1/nodes</c>: the deployment's servers and workers, as the nodes page shows them.</summary>
public static class NodesApi
{
    public static void MapNodesApi(this IEndpointRouteBuilder routes) =>
        routes.MapGet("/api/v1/nodes", List).WithTags("Nodes").WithName("ListNodes").WithMetadata(Security.AcrossProjects.Instance)
            .WithSummary("List the servers and workers: address, role, status, jobs running, endpoints loaded, CPU and memory");

    private static async Task<Ok<IReadOnlyList<NodeInfo>>> List(StratusDb db, NodeReporter reporter, TimeProvider clock, CancellationToken ct) =>
        TypedResults.Ok(await ListAsync(db, reporter.LostAfter, clock.GetUtcNow(), ct));

    /// <summary>Every node that reported within the last hour: the ones up first, servers before workers.</summary>
    public static async Task<IReadOnlyList<NodeInfo>> ListAsync(StratusDb db, TimeSpan lostAfter, DateTimeOffset now, CancellationToken ct)
    {
        var rows = await db.Nodes.AsNoTracking().ToListAsync(ct);
        string Status(NodeRow n) => n.StoppedAt is not null ? "stopped" : now - n.SeenAt > lostAfter ? "lost" : "up";
        return [.. rows.Select(n => new NodeInfo(n.Id, n.Role, Status(n), n.Host, n.Url, n.Silo, n.Version, n.StartedAt, n.SeenAt, n.Slots, n.JobsRunning,
                n.EndpointsLoaded, n.CpuPercent, n.MemoryBytes))
            .OrderBy(n => n.Status == "up" ? 0 : 1).ThenBy(n => n.Role == "server" ? 0 : 1).ThenBy(n => n.Id, StringComparer.Ordinal)];
    }
}
