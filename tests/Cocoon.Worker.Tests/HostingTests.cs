using Cocoon.Engine.Protocol;
using Cocoon.Testing;
using Cocoon.Worker.Inference;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Cocoon.Worker.Tests;

/// <summary>AddLlamaInference in a real host: loaded at start, served through IInferenceService, disposed by the host.</summary>
public sealed class HostingTests
{
    [Fact]
    public async Task TheHostLoadsServesAndDisposesTheService()
    {
        using var data = new TempDir("cocoon-host-test");
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Worker:Model"] = SharedFiles.SmallModel,
            ["Cocoon:DataDir"] = data.Path,
            ["Llama:Threads"] = "1",
            ["Llama:ContextSize"] = "128",
            ["Llama:MaxConcurrency"] = "2",
        });
        builder.Services.AddLlamaInference(builder.Configuration);
        LlamaInferenceService concrete;
        using (var host = builder.Build())
        {
            await host.StartAsync();
            var service = host.Services.GetRequiredService<IInferenceService>();
            concrete = Assert.IsType<LlamaInferenceService>(service);
            Assert.Equal(2, service.MaxConcurrency);
            Assert.Equal("stories260K", service.Model.Name);
            var chunks = new List<GenerationChunk>();
            await foreach (var chunk in service.GenerateAsync(InferenceTests.Raw("Once upon a time", 8, 0), CancellationToken.None))
            {
                chunks.Add(chunk);
            }

            Assert.Equal(8, chunks[^1].Usage!.CompletionTokens);
            await host.StopAsync();
        }

        await Assert.ThrowsAsync<ObjectDisposedException>(async () =>
        {
            await foreach (var chunk in concrete.GenerateAsync(InferenceTests.Raw("x", 1, 0), CancellationToken.None))
            {
                Assert.NotNull(chunk);
            }
        });
    }

    [Fact]
    public void BadSettingsStopTheRegistration()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Llama:Backend"] = "opencl" }).Build();
        var ex = Assert.Throws<Native.LlamaException>(() => new ServiceCollection().AddLlamaInference(configuration));
        Assert.Contains("COCOON_LLAMA_BACKEND", ex.Message, StringComparison.Ordinal);
    }
}
