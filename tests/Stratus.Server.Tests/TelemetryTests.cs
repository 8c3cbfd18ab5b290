using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Stratus.Testing;

namespace Stratus.Server.Tests;

public sealed class TelemetryTests
{
    [Fact]
    public async Task Should_export_a_predictions_spans_over_otlp_continuing_the_callers_trace()
    {
        // A collector on loopback: a bare route that keeps what it is sent, as an OTLP/HTTP receiver would.
        var received = new ConcurrentQueue<(string? ContentType, byte[] Body)>();
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        await using var collector = builder.Build();
        collector.MapPost("/v1/traces", async (HttpContext context) =>
        {
            using var body = new MemoryStream();
            await context.Request.Body.CopyToAsync(body);
            received.Enqueue((context.Request.ContentType, body.ToArray()));
            return Results.Ok();
        });
        await collector.StartAsync(TestContext.Current.CancellationToken);

        await using var server = await TestServer.StartAsync(o =>
        {
            o.Host.OtlpEndpoint = collector.Urls.First();
            o.Host.OtlpExportInterval = TimeSpan.FromMilliseconds(200);
        });
        var client = server.Client();
        var (onnx, _) = OnnxGraph.Mlp(4, 2, 8, 2);
        await client.Models.ImportAsync("traced-net", new MemoryStream(onnx), "traced.onnx", new OnnxSignature(Scores: "logits"));
        await client.Endpoints.DeployAsync("traced", "traced-net");

        // The caller's trace, carried in the W3C header; one answered request and one refused.
        var traceId = ActivityTraceId.CreateRandom();
        var callerSpan = ActivitySpanId.CreateRandom();
        using var http = server.Http(server.AdminToken);
        async Task<HttpStatusCode> PredictAsync(string row)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "api/v1/endpoints/traced/predict")
            {
                Content = new StringContent($$"""{"instances": [{{row}}]}""", Encoding.UTF8, "application/json"),
            };
            request.Headers.Add("traceparent", $"00-{traceId.ToHexString()}-{callerSpan.ToHexString()}-01");
            using var response = await http.SendAsync(request, TestContext.Current.CancellationToken);
            return response.StatusCode;
        }
        Assert.Equal(HttpStatusCode.OK, await PredictAsync("""{"x_0": 0.5, "x_1": 0.25}"""));
        Assert.Equal(HttpStatusCode.OK, await PredictAsync("""{"x_0": 0.1, "x_1": 0.9}""")); // the fast path, once the token is known
        Assert.Equal(HttpStatusCode.BadRequest, await PredictAsync("""{"x_0": "?", "x_1": 0.9}"""));

        // The spans arrive as OTLP protobuf: the trace id and the caller's span id as raw bytes, names and attributes as UTF-8.
        var traceBytes = Convert.FromHexString(traceId.ToHexString());
        var deadline = DateTime.UtcNow.AddSeconds(20);
        byte[] all;
        while (true)
        {
            all = [.. received.SelectMany(r => r.Body)];
            if (Count(all, traceBytes) >= 9 || DateTime.UtcNow > deadline) break; // three requests: HTTP, predict and model-call spans each
            await Task.Delay(100, TestContext.Current.CancellationToken);
        }
        Assert.All(received, r => Assert.Equal("application/x-protobuf", r.ContentType));
        Assert.True(Count(all, traceBytes) >= 9, $"spans of the caller's trace received: {Count(all, traceBytes)} of 9");
        Assert.True(Count(all, Convert.FromHexString(callerSpan.ToHexString())) >= 3, "the request spans name the caller's span as their parent");
        foreach (var text in new[] { "predict", "model call", "stratus.endpoint", "traced", "traced-net:1", "stratus.status", "service.name", "stratus" })
            Assert.True(Count(all, Encoding.UTF8.GetBytes(text)) > 0, $"'{text}' is in the exported spans");
    }

    private static int Count(byte[] haystack, byte[] needle)
    {
        var count = 0;
        for (var i = haystack.AsSpan().IndexOf(needle); i >= 0;)
        {
            count++;
            var next = haystack.AsSpan(i + 1).IndexOf(needle);
            i = next < 0 ? -1 : i + 1 + next;
        }
        return count;
    }
}
