using System.Security.Claims;
using Stratus.Server.Kernel;

namespace Stratus.Server.Security;

/// <summary>
/// Who may change an object: the one who made it, or an admin (projects and finer roles come with governance). An
/// object made before owners were recorded has none, and stays open to editors.
/// </summary>
internal static class Ownership
{
    /// <exception cref="ProblemException">403 naming the owner.</exception>
    public static void Check(ClaimsPrincipal user, string? owner, string what)
    {
        if (owner is null || user.IsInRole(Roles.Admin) || string.Equals(owner, user.Actor(), StringComparison.Ordinal)) return;
        throw new ProblemException(403, "Forbidden", $"{what} belongs to {owner}; only its owner or an admin may change it");
    }
}
