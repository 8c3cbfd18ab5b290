using Microsoft.AspNetCore.Http.HttpResults;
using Stratus.Server.Security;

namespace Stratus.Server.Serving;

/// <summary>Routes of <c>/api/v1/endpoints</c>.</summary>
public static class EndpointsApi
{
    public static void MapEndpointsApi(this IEndpointRouteBuilder routes)
    {
        var api = routes.MapGroup("/api/v1/endpoints").WithTags("Endpoints");
        api.MapGet("/", List).WithName("ListEndpoints").WithSummary("List endpoints");
        api.MapGet("/{name}", Get).WithName("GetEndpoint").WithSummary("Show an endpoint");
        api.MapPut("/{name}", Deploy).WithName("DeployEndpoint").WithSummary("Deploy or switch an endpoint to a model (NAME:VERSION, NAME@ALIAS or NAME)").RequireAuthorization(Policies.Editor);
        api.MapDelete("/{name}", Delete).WithName("DeleteEndpoint").WithSummary("Delete an endpoint").RequireAuthorization(Policies.Editor);
        api.MapPost("/{name}/predict", Predict).WithName("Predict").WithSummary("Score rows: {\"instances\": [{column: value, ...}, ...]}")
            .WithMetadata(new ReadOnlyPostMetadata());
    }

    private static Task<Page<EndpointInfo>> List(EndpointService endpoints, int? page_size, string? page_token, CancellationToken ct) =>
        endpoints.ListAsync(page_size, page_token, ct);

    private static async Task<Ok<EndpointInfo>> Get(string name, EndpointService endpoints, CancellationToken ct) => TypedResults.Ok(await endpoints.GetAsync(name, ct));

    private static async Task<Ok<EndpointInfo>> Deploy(string name, DeployRequest request, EndpointService endpoints, CancellationToken ct) =>
        TypedResults.Ok(await endpoints.DeployAsync(name, request, ct));

    private static async Task<NoContent> Delete(string name, EndpointService endpoints, CancellationToken ct)
    {
        await endpoints.DeleteAsync(name, ct);
        return TypedResults.NoContent();
    }

    private static async Task<Ok<PredictResponse>> Predict(string name, PredictRequest request, HttpContext context, ModelCache cache, CancellationToken ct)
    {
        // A loaded endpoint answers from memory: no database context is built unless the model must be loaded.
        var model = cache.TryGet(name, out var loaded) ? loaded : await context.RequestServices.GetRequiredService<EndpointService>().ResolveAsync(name, ct);
        return TypedResults.Ok(EndpointService.Predict(model, request, context.TraceIdentifier));
    }
}
