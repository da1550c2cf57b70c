using Cocoon.Engine.Protocol;
using Cocoon.Testing;
using Cocoon.Worker.Inference;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Cocoon.Worker.Tests;

/// <summary>AddLlamaInference in a real host: loaded by a hosted service at start, served through IInferenceService, disposed by the host.</summary>
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
            var holder = host.Services.GetRequiredService<LlamaInferenceHolder>();
            Assert.False(holder.IsLoaded);
            Assert.Contains("not loaded yet", Assert.Throws<InvalidOperationException>(() => holder.Model).Message, StringComparison.Ordinal);
            await host.StartAsync();
            var service = host.Services.GetRequiredService<IInferenceService>();
            Assert.Same(holder, service);
            concrete = holder.Service;
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
    public async Task HostedServicesRegisteredAfterTheModelStartWithItLoaded()
    {
        using var data = new TempDir("cocoon-host-test");
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(Settings(data.Path));
        builder.Services.AddLlamaInference(builder.Configuration);
        builder.Services.AddSingleton<ModelAtStart>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<ModelAtStart>());
        using var host = builder.Build();
        await host.StartAsync();
        Assert.Equal("stories260K", host.Services.GetRequiredService<ModelAtStart>().Seen);
        await host.StopAsync();
    }

    [Fact]
    public async Task ACancelledStartStopsTheLoad()
    {
        using var data = new TempDir("cocoon-host-test");
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(Settings(data.Path));
        builder.Services.AddLlamaInference(builder.Configuration);
        using var host = builder.Build();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => host.StartAsync(new CancellationToken(canceled: true)));
        Assert.False(host.Services.GetRequiredService<LlamaInferenceHolder>().IsLoaded);
    }

    [Fact]
    public void BadSettingsStopTheRegistration()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Llama:Backend"] = "opencl" }).Build();
        var ex = Assert.Throws<Native.LlamaException>(() => new ServiceCollection().AddLlamaInference(configuration));
        Assert.Contains("COCOON_LLAMA_BACKEND", ex.Message, StringComparison.Ordinal);
    }

    private static Dictionary<string, string?> Settings(string dataDir) => new()
    {
        ["Worker:Model"] = SharedFiles.SmallModel,
        ["Cocoon:DataDir"] = dataDir,
        ["Llama:Threads"] = "1",
        ["Llama:ContextSize"] = "128",
        ["Llama:MaxConcurrency"] = "1",
    };

    /// <summary>Stands for the worker host: reads the model when it starts, as the worker does before registering.</summary>
    private sealed class ModelAtStart(IInferenceService inference) : IHostedService
    {
        public string? Seen { get; private set; }

        public Task StartAsync(CancellationToken cancellationToken)
        {
            Seen = inference.Model.Name;
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
