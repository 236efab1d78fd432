package dev.braindrip.tensor;

/** A device or host allocation failed, or an {@link Arena} limit would be exceeded. */
public final class DeviceOutOfMemoryException extends RuntimeException {
    public DeviceOutOfMemoryException(String message) {
        super(message);
    }
}
