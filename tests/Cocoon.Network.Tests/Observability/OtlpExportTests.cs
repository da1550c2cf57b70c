using System.Diagnostics;
using System.Net;
using Cocoon.Network.Observability;
using Cocoon.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OpenTelemetry.Trace;

namespace Cocoon.Network.Tests.Observability;

/// <summary>
/// Spans leave the process through the real OTLP exporter when an endpoint is configured: a collector on loopback
/// receives an OTLP/HTTP protobuf POST that holds the span's name and trace id; with no endpoint nothing is exported.
/// </summary>
public sealed class OtlpExportTests
{
    [Fact]
    public async Task A_span_is_exported_over_otlp_http_to_the_configured_collector()
    {
        var port = RedisServer.FreePort();
        using var collector = new HttpListener();
        collector.Prefixes.Add($"http://127.0.0.1:{port}/");
        collector.Start();
        var received = ReceiveAsync(collector);

        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { [CocoonTracing.EndpointSetting] = $"http://127.0.0.1:{port}" });
        builder.Services.AddCocoonTracing(builder.Configuration, "cocoon-test");
        using var host = builder.Build();
        await host.StartAsync();

        ActivityTraceId traceId;
        using (var span = CocoonTracing.Worker.StartActivity("cocoon.job"))
        {
            Assert.NotNull(span);
            traceId = span.TraceId;
        }

        Assert.True(host.Services.GetRequiredService<TracerProvider>().ForceFlush(30_000));
        var (path, contentType, body) = await received.WaitAsync(TimeSpan.FromSeconds(30));
        await host.StopAsync();

        Assert.Equal("/v1/traces", path);
        Assert.Equal("application/x-protobuf", contentType);
        Assert.True(body.AsSpan().IndexOf("cocoon.job"u8) >= 0, "the span's name is in the export");
        Assert.True(body.AsSpan().IndexOf(Convert.FromHexString(traceId.ToHexString())) >= 0, "the span's trace id is in the export");
        Assert.True(body.AsSpan().IndexOf("cocoon-test"u8) >= 0, "the service name is in the export");
    }

    [Fact]
    public void Without_an_endpoint_tracing_is_off_and_a_bad_one_is_named()
    {
        var none = new ConfigurationBuilder().Build();
        Assert.Null(CocoonTracing.Endpoint(none));
        var services = new ServiceCollection().AddCocoonTracing(none, "cocoon-test");
        Assert.DoesNotContain(services, d => d.ServiceType == typeof(TracerProvider));

        var bad = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { [CocoonTracing.EndpointSetting] = "collector:4318" }).Build();
        var e = Assert.Throws<InvalidOperationException>(() => CocoonTracing.Endpoint(bad));
        Assert.Contains(CocoonTracing.EndpointSetting, e.Message, StringComparison.Ordinal);
    }

    private static async Task<(string Path, string? ContentType, byte[] Body)> ReceiveAsync(HttpListener collector)
    {
        var context = await collector.GetContextAsync();
        using var copy = new MemoryStream();
        await context.Request.InputStream.CopyToAsync(copy);
        context.Response.StatusCode = 200;
        context.Response.Close();
        return (context.Request.Url!.AbsolutePath, context.Request.ContentType, copy.ToArray());
    }
}
