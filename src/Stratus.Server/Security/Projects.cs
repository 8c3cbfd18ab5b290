using System.Security.Claims;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using Microsoft.Extensions.Caching.Memory;
using Stratus.Server.Kernel;
using Stratus.Server.Storage;

namespace Stratus.Server.Security;

/// <summary>A project: the namespace its datasets, experiments and runs, jobs, models and endpoints live in.</summary>
public sealed class ProjectRow
{
    public long Id { get; set; }
    public required string Name { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public required string CreatedBy { get; set; }
    public List<ProjectMemberRow> Members { get; set; } = [];
}

/// <summary>A user's or service account's role in a project (<see cref="Projects.Roles"/>).</summary>
public sealed class ProjectMemberRow
{
    public long Id { get; set; }
    public long ProjectId { get; set; }
    public long UserId { get; set; }
    public UserRow? User { get; set; }
    public required string Role { get; set; }
    public DateTimeOffset AddedAt { get; set; }
    public required string AddedBy { get; set; }
}

/// <summary>One project's consent that another may use one of its resources (<see cref="GrantRequest"/>).</summary>
public sealed class ProjectGrantRow
{
    public long Id { get; set; }

    /// <summary>The project that owns the resource.</summary>
    public required string Project { get; set; }

    /// <summary><c>model</c> or <c>dataset</c>.</summary>
    public required string Kind { get; set; }

    public required string Resource { get; set; }

    /// <summary>The project that may use it.</summary>
    public required string To { get; set; }

    public DateTimeOffset CreatedAt { get; set; }
    public required string CreatedBy { get; set; }
}

/// <summary>A row that belongs to a project: the database shows a request only its project's rows (<see cref="ProjectScope"/>).</summary>
public interface IProjectOwned
{
    /// <summary>The project's name; set from the scope when a row is added without one.</summary>
    string Project { get; set; }
}

internal sealed class ProjectRowConfiguration : IEntityTypeConfiguration<ProjectRow>, IEntityTypeConfiguration<ProjectMemberRow>, IEntityTypeConfiguration<ProjectGrantRow>
{
    public void Configure(EntityTypeBuilder<ProjectRow> b)
    {
        b.ToTable("projects");
        b.HasIndex(x => x.Name).IsUnique();
        b.Property(x => x.Name).HasMaxLength(Names.MaxLength);
        b.Property(x => x.CreatedBy).HasMaxLength(200);
        b.HasMany(x => x.Members).WithOne().HasForeignKey(m => m.ProjectId).OnDelete(DeleteBehavior.Cascade);
    }

    public void Configure(EntityTypeBuilder<ProjectMemberRow> b)
    {
        b.ToTable("project_members");
        b.HasIndex(x => new { x.ProjectId, x.UserId }).IsUnique();
        b.HasIndex(x => x.UserId);
        b.HasOne(x => x.User).WithMany().HasForeignKey(x => x.UserId).OnDelete(DeleteBehavior.Cascade);
        b.Property(x => x.Role).HasMaxLength(16);
        b.Property(x => x.AddedBy).HasMaxLength(200);
    }

    public void Configure(EntityTypeBuilder<ProjectGrantRow> b)
    {
        b.ToTable("project_grants");
        b.HasIndex(x => new { x.Project, x.Kind, x.Resource, x.To }).IsUnique();
        b.Property(x => x.Project).HasMaxLength(Names.MaxLength);
        b.Property(x => x.Kind).HasMaxLength(16);
        b.Property(x => x.Resource).HasMaxLength(Names.MaxLength);
        b.Property(x => x.To).HasMaxLength(Names.MaxLength);
        b.Property(x => x.CreatedBy).HasMaxLength(200);
    }
}

/// <summary>
/// The project a unit of work is in, one per service scope, read by the database's query filter on every
/// <see cref="IProjectOwned"/> row. A request enters its project once it is authorized there (<see cref="ProjectMiddleware"/>);
/// a job enters its job's; work that serves every project (the grains' sweeps, garbage collection) stays outside any
/// and sees every row.
/// </summary>
public sealed class ProjectScope
{
    /// <summary>The project; null: every project; empty: none (a console user who may not see the project it shows).</summary>
    public string? Name { get; private set; }

    public void Enter(string project) => Name = project;
}

/// <summary>
/// What a caller may do in a project, from its claims alone (the serving fast path asks too, with no database): an admin
/// is admin everywhere; anyone else holds the weaker of its token's role and its role as a member (an owner acts as an
/// editor, plus managing members), and nothing in a project it is not a member of; a token limited to one project
/// reaches no other; an invoke token, only its own project.
/// </summary>
public static class ProjectAccess
{
    /// <summary>One claim per membership, <c>project=role</c>.</summary>
    public const string MemberClaim = "member";

    /// <summary>The one project a token is limited to.</summary>
    public const string TokenProjectClaim = "token_project";

    /// <summary>The project a request names (the header), else its token's, else <see cref="Projects.Default"/>.</summary>
    public static string Requested(HttpRequest request, ClaimsPrincipal user) =>
        request.Headers[Projects.Header].ToString() is { Length: > 0 } named ? named.Trim() : user.FindFirst(TokenProjectClaim)?.Value ?? Projects.Default;

    /// <summary>The role <paramref name="user"/> acts with in <paramref name="project"/>, or null when it may not see it.</summary>
    public static string? RoleIn(ClaimsPrincipal user, string project)
    {
        var tokenRole = user.FindFirst(ClaimTypes.Role)?.Value;
        if (user.FindFirst(TokenProjectClaim)?.Value is { } only && only != project) return null;
        if (tokenRole == Roles.Admin) return Roles.Admin;
        if (tokenRole == Roles.Invoke) return user.HasClaim(TokenProjectClaim, project) ? Roles.Invoke : null;
        var member = MemberRole(user, project);
        if (member is null) return null;
        var capped = Projects.Rank(member) >= Projects.Rank(Projects.Editor) ? Roles.Editor : Roles.Viewer;
        return Roles.Rank(tokenRole) <= Roles.Rank(capped) ? tokenRole : capped;
    }

    /// <summary>The user's role as a member of <paramref name="project"/>, or null.</summary>
    public static string? MemberRole(ClaimsPrincipal user, string project)
    {
        var prefix = project + "=";
        return user.FindAll(MemberClaim).Select(c => c.Value).FirstOrDefault(v => v.StartsWith(prefix, StringComparison.Ordinal))?[prefix.Length..];
    }

    /// <summary>The claims of a principal's memberships and project limit.</summary>
    internal static IEnumerable<Claim> Claims(Principal principal) =>
        [
            .. (principal.Memberships ?? new Dictionary<string, string>()).Select(m => new Claim(MemberClaim, $"{m.Key}={m.Value}")),
            .. (principal.Project is null ? [] : new[] { new Claim(TokenProjectClaim, principal.Project) }),
        ];

    /// <summary>The principal of a request entered in a project: its role there (<see cref="RoleIn"/>) instead of its token's.</summary>
    internal static ClaimsPrincipal In(ClaimsPrincipal user, string role)
    {
        var identity = new ClaimsIdentity(user.Claims.Where(c => c.Type is not ClaimTypes.Role), user.Identity?.AuthenticationType);
        identity.AddClaim(new Claim(ClaimTypes.Role, role));
        return new ClaimsPrincipal(identity);
    }
}

/// <summary>Marks a route that works across projects (tokens, users, projects themselves): no project is entered for it.</summary>
internal sealed class AcrossProjects
{
    public static readonly AcrossProjects Instance = new();
}

/// <summary>
/// Between authentication and authorization, on the API's routes and the console's downloads: resolves the project a
/// request works in and the caller's role there, which the role policies then check. A project the caller may not see
/// answers 404 as one that does not exist, so that project names do not leak; then the request's scope enters it, and
/// the database shows only its rows.
/// </summary>
internal sealed class ProjectMiddleware(RequestDelegate next)
{
    public async Task InvokeAsync(HttpContext context, ProjectScope scope, ProjectService projects)
    {
        var user = context.User;
        if (user.Identity?.IsAuthenticated != true || !(context.Request.Path.StartsWithSegments("/api") || context.Request.Path.StartsWithSegments("/console"))
            || context.GetEndpoint() is not { } endpoint || endpoint.Metadata.GetMetadata<AcrossProjects>() is not null)
        {
            await next(context);
            return;
        }
        var project = ProjectAccess.Requested(context.Request, user);
        if (Names.Validate(project) is { } error) throw ProblemException.Invalid(Projects.Header, $"'{project}' {error}");
        if (ProjectAccess.RoleIn(user, project) is not { } role || (role == Roles.Admin && !await projects.ExistsAsync(project, context.RequestAborted)))
            throw ProjectService.Unknown(project);
        context.User = ProjectAccess.In(user, role);
        scope.Enter(project);
        // An endpoint's routes name it within the project; everything behind them knows it by its key.
        if (context.Request.Path.StartsWithSegments("/api/v1/endpoints") && context.Request.RouteValues["name"] is string name)
            context.Request.RouteValues["name"] = Projects.EndpointKey(project, name);
        await next(context);
    }
}

/// <summary>
/// Projects, their members and their grants. Anyone with an editor token makes a project and owns it; its owners (and
/// admins) manage its members and grants. Nobody outside a project learns that it exists.
/// </summary>
public sealed class ProjectService(StratusDb db, IMemoryCache cache, TimeProvider clock)
{
    /// <summary>A grant of a model: the other project deploys it, scores with it.</summary>
    public const string ModelGrant = "model";

    /// <summary>A grant of a dataset: the other project trains on it, scores it.</summary>
    public const string DatasetGrant = "dataset";

    /// <summary>Resource kinds a grant can name.</summary>
    public static readonly string[] GrantKinds = [ModelGrant, DatasetGrant];

    public static ProblemException Unknown(string project) => ProblemException.NotFound($"project '{project}'");

    public async Task<ProjectInfo> CreateAsync(CreateProjectRequest request, ClaimsPrincipal user, CancellationToken ct)
    {
        ProblemException.CheckName("name", request.Name);
        if (await db.Projects.AnyAsync(p => p.Name == request.Name, ct)) throw ProblemException.Conflict($"a project named '{request.Name}' already exists");
        var now = clock.GetUtcNow();
        var row = new ProjectRow { Name = request.Name, CreatedAt = now, CreatedBy = user.Actor() };
        // Its maker owns it; an admin reaches every project and needs no membership.
        if (!IsAdmin(user) && await UserOf(user, ct) is { } owner)
            row.Members.Add(new ProjectMemberRow { UserId = owner.Id, Role = Projects.Owner, AddedAt = now, AddedBy = user.Actor() });
        db.Projects.Add(row);
        await db.SaveChangesAsync(ct);
        await TokenService.ForgetUsersAsync(db, cache, [.. row.Members.Select(m => m.UserId)], ct);
        return new ProjectInfo(row.Name, row.CreatedAt, row.CreatedBy, IsAdmin(user) ? Roles.Admin : Projects.Owner, row.Members.Count);
    }

    /// <summary>The projects the caller may see: every one for an admin, else its memberships (within its token's limit).</summary>
    public async Task<IReadOnlyList<ProjectInfo>> ListAsync(ClaimsPrincipal user, CancellationToken ct)
    {
        var rows = await db.Projects.AsNoTracking().OrderBy(p => p.Name).Select(p => new { p.Name, p.CreatedAt, p.CreatedBy, Members = p.Members.Count }).ToListAsync(ct);
        return [.. rows.Where(p => ProjectAccess.RoleIn(user, p.Name) is not null and not Roles.Invoke)
            .Select(p => new ProjectInfo(p.Name, p.CreatedAt, p.CreatedBy, IsAdmin(user) ? Roles.Admin : ProjectAccess.MemberRole(user, p.Name)!, p.Members))];
    }

    public async Task<IReadOnlyList<ProjectMemberInfo>> MembersAsync(string project, ClaimsPrincipal user, CancellationToken ct)
    {
        var row = await VisibleAsync(project, user, ct);
        return await db.ProjectMembers.AsNoTracking().Where(m => m.ProjectId == row.Id).OrderBy(m => m.User!.Name)
            .Select(m => new ProjectMemberInfo(m.User!.Name, m.Role, m.AddedAt, m.AddedBy)).ToListAsync(ct);
    }

    /// <summary>Adds a member or changes its role (an owner of the project, or an admin). The last owner stays an owner.</summary>
    public async Task<ProjectMemberInfo> SetMemberAsync(string project, string userName, SetMemberRequest request, ClaimsPrincipal user, CancellationToken ct)
    {
        var row = await OwnedAsync(project, user, ct);
        if (!Projects.Roles.Contains(request.Role)) throw ProblemException.Invalid("role", $"'{request.Role}' is not a member's role; use {string.Join(", ", Projects.Roles)}");
        var member = await db.Users.FirstOrDefaultAsync(u => u.Name == userName, ct)
            ?? throw ProblemException.Invalid("user", $"no user or service account is named '{userName}' (stratus users create {userName})");
        var existing = await db.ProjectMembers.FirstOrDefaultAsync(m => m.ProjectId == row.Id && m.UserId == member.Id, ct);
        if (existing is null)
        {
            existing = new ProjectMemberRow { ProjectId = row.Id, UserId = member.Id, Role = request.Role, AddedAt = clock.GetUtcNow(), AddedBy = user.Actor() };
            db.Add(existing);
        }
        else
        {
            if (existing.Role == Projects.Owner && request.Role != Projects.Owner) await KeepAnOwnerAsync(row, member.Id, ct);
            existing.Role = request.Role;
        }
        await db.SaveChangesAsync(ct);
        await TokenService.ForgetUsersAsync(db, cache, [member.Id], ct);
        return new ProjectMemberInfo(member.Name, existing.Role, existing.AddedAt, existing.AddedBy);
    }

    public async Task RemoveMemberAsync(string project, string userName, ClaimsPrincipal user, CancellationToken ct)
    {
        var row = await OwnedAsync(project, user, ct);
        var member = await db.ProjectMembers.FirstOrDefaultAsync(m => m.ProjectId == row.Id && m.User!.Name == userName, ct)
            ?? throw ProblemException.NotFound($"member '{userName}' of project '{project}'");
        if (member.Role == Projects.Owner) await KeepAnOwnerAsync(row, member.UserId, ct);
        db.Remove(member);
        await db.SaveChangesAsync(ct);
        await TokenService.ForgetUsersAsync(db, cache, [member.UserId], ct);
    }

    /// <summary>Lets project <see cref="GrantRequest.To"/> use one of <paramref name="project"/>'s resources (an owner, or an admin).</summary>
    public async Task<GrantInfo> GrantAsync(string project, GrantRequest request, ClaimsPrincipal user, CancellationToken ct)
    {
        await OwnedAsync(project, user, ct);
        if (!GrantKinds.Contains(request.Kind)) throw ProblemException.Invalid("kind", $"'{request.Kind}' cannot be granted; use {string.Join(" or ", GrantKinds)}");
        ProblemException.CheckName("resource", request.Resource);
        ProblemException.CheckName("to", request.To);
        if (request.To == project) throw ProblemException.Invalid("to", "a project uses its own resources without a grant");
        // The receiving project must exist; one the granter cannot see is reported as missing, as everywhere.
        if (ProjectAccess.RoleIn(user, request.To) is null or Roles.Invoke || !await ExistsAsync(request.To, ct))
            throw ProblemException.Invalid("to", $"project '{request.To}' does not exist");
        var exists = request.Kind == ModelGrant
            ? await db.Models.IgnoreQueryFilters().AnyAsync(m => m.Project == project && m.Name == request.Resource, ct)
            : await db.Datasets.IgnoreQueryFilters().AnyAsync(d => d.Project == project && d.Name == request.Resource, ct);
        if (!exists) throw ProblemException.NotFound($"{request.Kind} '{request.Resource}' in project '{project}'");
        var row = await db.ProjectGrants.FirstOrDefaultAsync(g => g.Project == project && g.Kind == request.Kind && g.Resource == request.Resource && g.To == request.To, ct);
        if (row is null)
        {
            row = new ProjectGrantRow { Project = project, Kind = request.Kind, Resource = request.Resource, To = request.To, CreatedAt = clock.GetUtcNow(), CreatedBy = user.Actor() };
            db.Add(row);
            await db.SaveChangesAsync(ct);
        }
        return Info(row);
    }

    public async Task<IReadOnlyList<GrantInfo>> GrantsAsync(string project, ClaimsPrincipal user, CancellationToken ct)
    {
        await VisibleAsync(project, user, ct);
        var rows = await db.ProjectGrants.AsNoTracking().Where(g => g.Project == project || g.To == project).OrderBy(g => g.Id).ToListAsync(ct);
        return rows.ConvertAll(Info);
    }

    public async Task RevokeGrantAsync(string project, long id, ClaimsPrincipal user, CancellationToken ct)
    {
        await OwnedAsync(project, user, ct);
        var row = await db.ProjectGrants.FirstOrDefaultAsync(g => g.Id == id && g.Project == project, ct) ?? throw ProblemException.NotFound($"grant {id} of project '{project}'");
        db.Remove(row);
        await db.SaveChangesAsync(ct);
    }

    /// <summary>
    /// The project <paramref name="name"/> (<c>project/name</c>) is of when that is not the scope's own; null for a
    /// name of the scope's project.
    /// </summary>
    internal static string? Foreign(StratusDb db, string name) =>
        Projects.SplitQualified(name).Project is { } project && project != db.CurrentProject ? project : null;

    /// <summary>
    /// Refuses the use of another project's resource without a grant to the scope's project, as a resource that does not
    /// exist. Work outside any project (a node loading what an endpoint serves) was checked when it was set up.
    /// </summary>
    internal static async Task CheckGrantAsync(StratusDb db, string project, string kind, string resource, CancellationToken ct)
    {
        if (db.CurrentProject is not { } here) return;
        if (!await db.ProjectGrants.AsNoTracking().AnyAsync(g => g.Project == project && g.Kind == kind && g.Resource == resource && g.To == here, ct))
            throw ProblemException.NotFound($"{kind} '{Projects.Qualified(project, resource)}'");
    }

    /// <summary>Whether a project exists (cached a minute: projects are never removed).</summary>
    public async Task<bool> ExistsAsync(string project, CancellationToken ct)
    {
        if (cache.TryGetValue(("project", project), out bool _)) return true;
        if (!await db.Projects.AsNoTracking().AnyAsync(p => p.Name == project, ct)) return false;
        cache.Set(("project", project), true, TimeSpan.FromMinutes(1));
        return true;
    }

    /// <summary>Makes a user or service account a member of a project (a service account made with its first token joins the project it was made in).</summary>
    internal async Task JoinAsync(string project, UserRow member, string role, string actor, CancellationToken ct)
    {
        var row = await db.Projects.FirstOrDefaultAsync(p => p.Name == project, ct) ?? throw Unknown(project);
        row.Members.Add(new ProjectMemberRow { User = member, Role = role, AddedAt = clock.GetUtcNow(), AddedBy = actor });
    }

    private async Task<ProjectRow> VisibleAsync(string project, ClaimsPrincipal user, CancellationToken ct)
    {
        if (ProjectAccess.RoleIn(user, project) is null or Roles.Invoke) throw Unknown(project);
        return await db.Projects.FirstOrDefaultAsync(p => p.Name == project, ct) ?? throw Unknown(project);
    }

    private async Task<ProjectRow> OwnedAsync(string project, ClaimsPrincipal user, CancellationToken ct)
    {
        var row = await VisibleAsync(project, user, ct);
        if (IsAdmin(user)) return row;
        if (ProjectAccess.MemberRole(user, project) != Projects.Owner || ProjectAccess.RoleIn(user, project) != Roles.Editor)
            throw new ProblemException(403, "Forbidden", $"only an owner of project '{project}' (with an editor token) or an admin manages its members and grants");
        return row;
    }

    private async Task KeepAnOwnerAsync(ProjectRow project, long leaving, CancellationToken ct)
    {
        if (!await db.ProjectMembers.AnyAsync(m => m.ProjectId == project.Id && m.Role == Projects.Owner && m.UserId != leaving, ct))
            throw ProblemException.Conflict($"project '{project.Name}' keeps at least one owner: make another member its owner first");
    }

    private Task<UserRow?> UserOf(ClaimsPrincipal user, CancellationToken ct)
    {
        var name = user.Actor();
        return db.Users.FirstOrDefaultAsync(u => u.Name == name, ct);
    }

    private static bool IsAdmin(ClaimsPrincipal user) => user.FindFirst(ClaimTypes.Role)?.Value == Roles.Admin;

    private static GrantInfo Info(ProjectGrantRow g) => new(g.Id, g.Project, g.Kind, g.Resource, g.To, g.CreatedAt, g.CreatedBy);
}

/// <summary>A service scope entered in the project of an endpoint known by its key (the grains' work on one endpoint).</summary>
internal static class EndpointScope
{
    public static AsyncServiceScope Create(IServiceScopeFactory scopes, string endpointKey)
    {
        var scope = scopes.CreateAsyncScope();
        scope.ServiceProvider.GetRequiredService<ProjectScope>().Enter(Projects.SplitEndpointKey(endpointKey).Project);
        return scope;
    }
}
