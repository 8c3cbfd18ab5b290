using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace Stratus.Server.Hosting;

/// <summary>Declares the bearer-token scheme in the OpenAPI document and requires it everywhere.</summary>
internal sealed class BearerSecurityTransformer : IOpenApiDocumentTransformer
{
    public Task TransformAsync(OpenApiDocument document, OpenApiDocumentTransformerContext context, CancellationToken cancellationToken)
    {
        document.Info.Title = "Stratus API";
        document.Info.Description = "Self-hosted machine-learning platform. Every endpoint but /health/* needs `Authorization: Bearer <token>`.";
        document.Components ??= new OpenApiComponents();
        document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
        document.Components.SecuritySchemes["bearer"] = new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.Http,
            Scheme = "bearer",
            Description = "A Stratus token (stratus_...). The first start writes one to <data-dir>/admin.token.",
        };
        document.Security ??= [];
        document.Security.Add(new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference("bearer", document)] = [] });
        return Task.CompletedTask;
    }
}
