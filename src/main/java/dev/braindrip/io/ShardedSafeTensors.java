package dev.braindrip.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The tensors of a model folder, looked up across shards: either a sharded checkpoint described by
 * {@code model.safetensors.index.json} (its {@code weight_map} maps tensor names to shard files) or
 * a single {@code model.safetensors}.
 *
 * <p>Opening checks everything up front: every shard named in the index exists inside the folder
 * and is a valid safetensors file, and every name in the weight_map is a tensor of its shard.
 * {@link #names()} follows the weight_map's order (or the single file's header order); tensors that
 * a shard holds but the weight_map does not list are not visible. {@link #metadata()} is the index's
 * {@code "metadata"} object with values as text (for example {@code total_size}), or the single
 * file's {@code __metadata__}.
 */
public final class ShardedSafeTensors implements TensorSource {
    /** The index file of a sharded checkpoint. */
    public static final String INDEX_FILE = "model.safetensors.index.json";
    /** The file of an unsharded checkpoint. */
    public static final String SINGLE_FILE = "model.safetensors";

    private final List<SafeTensors> shards;
    private final Map<String, SafeTensors> owners;
    private final List<String> names;
    private final Map<String, String> metadata;
    private volatile boolean closed;

    private ShardedSafeTensors(List<SafeTensors> shards, Map<String, SafeTensors> owners,
            Map<String, String> metadata) {
        this.shards = List.copyOf(shards);
        this.owners = Map.copyOf(owners);
        this.names = List.copyOf(owners.keySet());
        this.metadata = metadata;
    }

    /**
     * Opens the checkpoint in {@code folder}: the index if there is one, else the single file.
     *
     * @throws NoSuchFileException if the folder holds neither
     * @throws SafeTensorsFormatException if the index or a shard is malformed, a shard is missing,
     *     or the index names a tensor its shard does not hold
     */
    public static ShardedSafeTensors open(Path folder) throws IOException {
        Path index = folder.resolve(INDEX_FILE);
        if (Files.exists(index)) {
            return openIndexed(folder, ShardIndex.read(index));
        }
        Path single = folder.resolve(SINGLE_FILE);
        if (!Files.exists(single)) {
            throw new NoSuchFileException(folder.toString(), null,
                    "neither " + INDEX_FILE + " nor " + SINGLE_FILE + " is in this folder");
        }
        SafeTensors file = SafeTensors.open(single);
        Map<String, SafeTensors> owners = new LinkedHashMap<>();
        file.names().forEach(n -> owners.put(n, file));
        return new ShardedSafeTensors(List.of(file), owners, file.metadata());
    }

    private static ShardedSafeTensors openIndexed(Path folder, ShardIndex index) throws IOException {
        Map<String, SafeTensors> byShard = new LinkedHashMap<>();
        try {
            for (String shard : index.shardFiles()) {
                byShard.put(shard, SafeTensors.open(folder.resolve(shard)));
            }
            Map<String, SafeTensors> owners = new LinkedHashMap<>();
            for (Map.Entry<String, String> e : index.weightMap().entrySet()) {
                SafeTensors shard = byShard.get(e.getValue());
                if (!shard.contains(e.getKey())) {
                    throw new SafeTensorsFormatException(INDEX_FILE, e.getKey(),
                            "mapped to shard '" + e.getValue() + "', which has no such tensor");
                }
                owners.put(e.getKey(), shard);
            }
            return new ShardedSafeTensors(new ArrayList<>(byShard.values()), owners, index.metadata());
        } catch (IOException | RuntimeException | Error e) {
            byShard.values().forEach(SafeTensors::close);
            throw e;
        }
    }

    @Override
    public List<String> names() {
        checkOpen();
        return names;
    }

    @Override
    public boolean contains(String name) {
        checkOpen();
        return owners.containsKey(name);
    }

    @Override
    public TensorInfo info(String name) {
        return owner(name).info(name);
    }

    @Override
    public Map<String, String> metadata() {
        checkOpen();
        return metadata;
    }

    @Override
    public ByteBuffer buffer(String name) {
        return owner(name).buffer(name);
    }

    /** The shard that holds {@code name}. */
    public SafeTensors shardOf(String name) {
        return owner(name);
    }

    private SafeTensors owner(String name) {
        checkOpen();
        SafeTensors shard = owners.get(name);
        if (shard == null) {
            throw new IllegalArgumentException("no tensor named '" + name + "' in this checkpoint");
        }
        return shard;
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        shards.forEach(SafeTensors::close);
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("checkpoint is closed");
        }
    }
}
