using Cocoon.Testing;
using Cocoon.Worker.Inference;
using Cocoon.Worker.Native;

namespace Cocoon.Worker.Tests;

/// <summary>Bad model files are clear errors and the process lives (llama.cpp's own failures would abort it).</summary>
public sealed class ModelLoadTests : IDisposable
{
    private readonly TempDir _dir = new("cocoon-model-test");

    [Fact]
    public async Task AMissingFileIsAClearError()
    {
        var ex = await Assert.ThrowsAsync<FileNotFoundException>(() => LoadAsync(_dir.File("missing.gguf")));
        Assert.Contains("COCOON_MODEL", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AFileThatIsNotGgufIsAClearError()
    {
        await File.WriteAllTextAsync(_dir.File("notes.gguf"), "this is not a model");
        var ex = await Assert.ThrowsAsync<LlamaException>(() => LoadAsync(_dir.File("notes.gguf")));
        Assert.Contains("not a GGUF", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(4)]
    [InlineData(100)]
    [InlineData(4096)]
    [InlineData(600_000)]
    public async Task ATruncatedGgufIsAClearError(int length)
    {
        var bytes = await File.ReadAllBytesAsync(SharedFiles.SmallModel);
        await File.WriteAllBytesAsync(_dir.File("cut.gguf"), bytes.AsSpan(0, length).ToArray());
        var ex = await Assert.ThrowsAsync<LlamaException>(() => LoadAsync(_dir.File("cut.gguf")));
        Assert.Contains("could not load", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task LoadingCanBeCancelledFromTheProgressCallback()
    {
        using var cts = new CancellationTokenSource();
        var progress = new CancelOnReport(cts);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            LlamaInferenceService.LoadAsync(LlamaFixture.Options(_dir), LlamaFixture.Loggers, TimeProvider.System, progress, cts.Token));
        Assert.True(progress.Reports > 0);
    }

    [Fact]
    public async Task LoadingReportsProgressToTheEnd()
    {
        var progress = new Recorder();
        using var service = await LlamaInferenceService.LoadAsync(LlamaFixture.Options(_dir) with { MaxConcurrency = 1 }, LlamaFixture.Loggers, TimeProvider.System, progress, CancellationToken.None);
        Assert.NotEmpty(progress.Values);
        Assert.Equal(1f, progress.Values[^1]);
    }

    public void Dispose() => _dir.Dispose();

    private async Task LoadAsync(string model)
    {
        using var service = await LlamaInferenceService.LoadAsync(
            LlamaFixture.Options(_dir) with { Model = model, MaxConcurrency = 1 }, LlamaFixture.Loggers, TimeProvider.System, null, CancellationToken.None);
    }

    private sealed class CancelOnReport(CancellationTokenSource cts) : IProgress<float>
    {
        public int Reports { get; private set; }

        public void Report(float value)
        {
            Reports++;
            cts.Cancel();
        }
    }

    private sealed class Recorder : IProgress<float>
    {
        public List<float> Values { get; } = [];

        public void Report(float value) => Values.Add(value);
    }
}
