using System.Security.Claims;
using Stratus.Server.Security;
using Stratus.Server.Storage;

namespace Stratus.Server.WebConsole;

/// <summary>
/// The audit trail of what people do in the console: its actions travel over the circuit, not as HTTP requests the
/// audit middleware sees, so each one is written here, by the same rules (who, what, the outcome).
/// </summary>
internal static class ConsoleAudit
{
    public static async Task RecordAsync(IServiceProvider services, ClaimsPrincipal user, string method, string path, int status, string detail)
    {
        var db = services.GetRequiredService<StratusDb>();
        db.Audit.Add(new AuditRow
        {
            Time = services.GetRequiredService<TimeProvider>().GetUtcNow(),
            Actor = user.Actor(),
            Role = user.FindFirst(ClaimTypes.Role)?.Value,
            Method = method,
            Path = path,
            Status = status,
            Outcome = status is 401 or 403 ? "refused" : status >= 400 ? "error" : "ok",
            Detail = detail,
        });
        await db.SaveChangesAsync();
    }
}
